"""Names shared across detflow, each defined once (TFX's `standard_component_specs` idea).

Imports nothing, so the TFX-free libraries, the components and the pipeline can
all use it.

File names inside artifacts and exports, and the channel keys of the custom
components' specs (the keys of `input_dict` / `output_dict` in their executors).
"""

# --- file names
PIPELINE_CONFIG_FILE = "pipeline.config"
LABEL_MAP_FILE = "label_map.pbtxt"
VALIDATION_FILE = "validation.json"

# --- channel keys
EXAMPLES_KEY = "examples"
PIPELINE_CONFIG_KEY = "pipeline_config"
LABEL_MAP_KEY = "label_map"
VALIDATED_LABEL_MAP_KEY = "validated_label_map"
BASE_MODEL_KEY = "base_model"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
