"""Preprocessing of videos into TFRecord shards, and the tf.data pipelines that read them."""
