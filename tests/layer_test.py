"""A shared test of the Keras layer contract, in the manner of keras-hub's
``run_layer_test``: config round trip, serialisation, output shape, and the
compute precision (a Keras dtype policy) reaching every inner layer that
computes."""

import keras
import numpy as np
from keras import tree

BFLOAT16 = "mixed_bfloat16"


def run_layer_test(
    layer_class,
    init_kwargs,
    call_args,
    expected_output_shape,
    call_kwargs=None,
    bfloat16_compute="bfloat16",
    bfloat16_output="float32",
):
    """Checks ``layer_class(**init_kwargs)`` called on ``call_args`` / ``call_kwargs``.

    - the outputs (any structure) have ``expected_output_shape`` (the same
      structure of shape tuples);
    - ``get_config`` holds every constructor argument and ``from_config`` of it
      rebuilds an equal config;
    - ``serialize_keras_object`` / ``deserialize_keras_object`` give a layer
      that, given the same (perturbed) weights, returns the same outputs;
    - built with ``dtype="mixed_bfloat16"`` the layer computes in
      ``bfloat16_compute`` (``float32`` for state that stays float32 whatever
      the model's precision), so does every inner Conv2D and hidden Dense
      layer (the ``logits`` layer stays float32), every variable stays float32
      or int32, and the floating outputs are ``bfloat16_output`` (what the
      next layer takes: a stem's bfloat16 features, a head's float32 logits).

    Returns the inner layers that compute in the layer's precision.
    """
    call_kwargs = call_kwargs or {}
    layer = layer_class(**init_kwargs)
    output = layer(*call_args, **call_kwargs)
    assert tree.map_structure(lambda t: tuple(t.shape), output) == expected_output_shape
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert config[key] == value, (key, config[key], value)
    assert layer_class.from_config(config).get_config() == config

    for weight in layer.weights:  # a weight that is not restored shows
        if keras.backend.is_float_dtype(weight.dtype):
            noise = np.random.default_rng(0).uniform(0.0, 0.1, weight.shape)
            weight.assign(np.asarray(weight) + noise.astype(np.float32))
    output = layer(*call_args, **call_kwargs)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is layer_class and restored.get_config() == config
    restored(*call_args, **call_kwargs)
    restored.set_weights(layer.get_weights())
    tree.map_structure(
        lambda got, expected: np.testing.assert_array_equal(np.asarray(got), np.asarray(expected)),
        restored(*call_args, **call_kwargs),
        output,
    )

    narrow = layer_class(**{**init_kwargs, "dtype": BFLOAT16})
    narrow_output = narrow(*call_args, **call_kwargs)
    assert narrow.compute_dtype == bfloat16_compute
    for tensor in tree.flatten(narrow_output):
        if keras.backend.is_float_dtype(tensor.dtype):
            assert keras.backend.standardize_dtype(tensor.dtype) == bfloat16_output
    assert {str(v.dtype) for v in narrow.weights} <= {"float32", "int32"}
    computing = [
        inner
        for inner in narrow._flatten_layers(include_self=False)
        if isinstance(inner, keras.layers.Conv2D | keras.layers.Dense) and inner.name != "logits"
    ]
    for inner in computing:
        assert inner.compute_dtype == "bfloat16", inner.name
    return computing
