"""The Pusher component: TFX's, pushing metrics.json and the TFLite files with the model."""
