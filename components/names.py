"""Names shared across detflow, each defined once (TFX's `standard_component_specs` idea).

Imports nothing but names (`schemas.model_layout`, `detection.training`'s package constants), so the
components and the pipeline can use it; the TFX-free library (`detection/`) does not.

File names inside artifacts and exports, and the channel keys of the custom
components' specs (the keys of `input_dict` / `output_dict` in their executors).
"""

# --- file names (a model folder's are schemas/model_layout.py's, named here too for the components)
from detection.training import BN_REESTIMATE_MODES  # noqa: F401
from schemas.model_layout import LABEL_MAP_FILE, PIPELINE_CONFIG_FILE, PUSHED_TFLITE_DIR, TFLITE_DIR, TRAIN_RESULT_FILE  # noqa: F401

VALIDATION_FILE = "validation.json"
EXAMPLE_GEN_REPORT_FILE = "report.json"  # what the ExampleGen kept and skipped: in Examples and `detflow convert --out`
METRICS_FILE = "metrics.json"           # the Evaluator's, in ModelEvaluation, ModelBlessing and the pushed folder

# --- execution parameters
CODE_VERSION_KEY = "detflow_code_version"   # the hash of the code a node runs (its cache key)
NUM_STEPS_KEY = "num_steps"                 # DetectionTrainer's, as the rest of this block
BATCH_SIZE_KEY = "batch_size"
FREEZE_BACKBONE_KEY = "freeze_backbone"
CHECKPOINT_EVERY_KEY = "checkpoint_every"
STRATEGY_KEY = "strategy"
TFLITE_MODES_KEY = "tflite_modes"           # comma-separated quantize modes
TFLITE_REPRESENTATIVE_SIZE_KEY = "tflite_representative_size"
BN_REESTIMATE_KEY = "bn_reestimate"         # one of BN_REESTIMATE_MODES (detection/training)
BN_REESTIMATE_BATCHES_KEY = "bn_reestimate_batches"
MIN_MAP_KEY = "min_map"                     # the Evaluator's, as the rest of this block
MAX_REGRESSION_KEY = "max_regression"
METRIC_KEY = "metric"
EVAL_SPLIT_KEY = "eval_split"
NUM_IMAGES_DRAWN_KEY = "num_images_drawn"
EVAL_BATCH_SIZE_KEY = "batch_size"
MAX_QUANTIZATION_DROP_KEY = "max_quantization_drop"

# --- channel keys
EXAMPLES_KEY = "examples"
PIPELINE_CONFIG_KEY = "pipeline_config"
LABEL_MAP_KEY = "label_map"
VALIDATED_LABEL_MAP_KEY = "validated_label_map"
BASE_MODEL_KEY = "base_model"
MODEL_KEY = "model"
MODEL_RUN_KEY = "model_run"
BASELINE_MODEL_KEY = "baseline_model"
CHAMPION_MODEL_KEY = "champion_model"      # an external model the candidate must not be worse than
EVALUATION_KEY = "evaluation"
BLESSING_KEY = "blessing"
MODEL_BLESSING_KEY = "model_blessing"   # TFX Pusher's
PUSHED_MODEL_KEY = "pushed_model"       # TFX Pusher's
