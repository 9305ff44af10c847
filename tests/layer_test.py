"""A shared test of the Keras layer contract, in the manner of keras-hub's
``run_layer_test``: config round trip, serialisation, output shape, and the
compute precision reaching every inner layer that computes."""

import keras
import numpy as np


def run_layer_test(
    layer_class, init_kwargs, input_data, expected_output_shape, bfloat16_output="float32"
):
    """Checks ``layer_class(**init_kwargs)`` on ``input_data``.

    - ``get_config`` holds every constructor argument and ``from_config`` of it
      rebuilds an equal config;
    - ``serialize_keras_object`` / ``deserialize_keras_object`` give a layer
      that, given the same weights, returns the same output;
    - the output has ``expected_output_shape``;
    - with ``precision="bfloat16"`` every inner Conv2D and hidden Dense layer
      computes in bfloat16 and keeps float32 variables, and the output is
      ``bfloat16_output`` (what the next layer takes: a stem's bfloat16
      features, a head's float32 logits).
    """
    layer = layer_class(**init_kwargs)
    output = layer(input_data)
    assert tuple(output.shape) == tuple(expected_output_shape), output.shape
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert config[key] == value, (key, config[key], value)
    assert layer_class.from_config(config).get_config() == config

    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is layer_class and restored.get_config() == config
    restored(input_data)
    restored.set_weights(layer.get_weights())
    np.testing.assert_array_equal(np.asarray(restored(input_data)), np.asarray(output))

    narrow = layer_class(**{**init_kwargs, "precision": "bfloat16"})
    narrow_output = narrow(input_data)
    assert keras.backend.standardize_dtype(narrow_output.dtype) == bfloat16_output
    computing = [
        inner
        for inner in narrow._flatten_layers(include_self=False)
        if isinstance(inner, keras.layers.Conv2D | keras.layers.Dense) and inner.name != "logits"
    ]
    for inner in computing:
        assert inner.compute_dtype == "bfloat16", inner.name
        assert {str(v.dtype) for v in inner.weights} == {"float32"}, inner.name
    return computing
