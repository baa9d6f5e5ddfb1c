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
TPU_KEY = "tpu"                             # the TPU TPUStrategy trains on (name, grpc:// address, "local")
PRECISION_KEY = "precision"                 # one of detection/training/precision.PRECISIONS
TRAINING_JOB_KEY = "training_job"           # JSON of a trainer/training_jobs.JobPlatform: train as a job there
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

# --- ML Metadata custom properties of the DetectionTrainer's Model artifact (trainer/executor.py writes them;
# the lineage audit reads them). train_result.json's keys, as they are:
MODEL_INT_PROPERTIES = ("steps", "start_step", "batch_size", "boxes_dropped", "boxes_unknown_class",
                        "max_number_of_boxes", "num_trainable_variables", "num_replicas", "resumed",
                        "moving_average_exported")
MODEL_FLOAT_PROPERTIES = ("final_loss", "images_per_sec", "eval_loss", "seconds")
# and the rest:
STRATEGY_PROPERTY = "strategy"
PRECISION_PROPERTY = "precision"          # the dtype policy the model trained under
TFLITE_VARIANTS_PROPERTY = "tflite_variants"                 # JSON: tflite_export's variants
BN_REESTIMATED_PROPERTY = "batch_norm_reestimated"           # 0/1
BN_REESTIMATION_PROPERTY = "batch_norm_reestimation"         # JSON: batch_norm_stats.Reestimation
HEALTHY_PROPERTY = "healthy"                                 # 0/1: model_health
HEALTH_PROPERTY = "health"                                   # its one line
BASE_CHECKPOINT_PROPERTY = "base_checkpoint"                 # the restore report's checkpoint
FINE_TUNE_CHECKPOINT_TYPE_PROPERTY = "fine_tune_checkpoint_type"
RESTORED_VARIABLES_PROPERTY = "restored_variables"
REINITIALIZED_VARIABLES_PROPERTY = "reinitialized_variables"
UNUSED_VARIABLES_PROPERTY = "unused_checkpoint_variables"
RESTORED_BY_MODULE_PROPERTY = "restored_by_module"           # JSON, as the two below
REINITIALIZED_BY_MODULE_PROPERTY = "reinitialized_by_module"
UNUSED_BY_MODULE_PROPERTY = "unused_by_module"
NETWORK_CHECK_PROPERTY = "network_check"

# --- ML Metadata custom properties of the Evaluator's ModelEvaluation and ModelBlessing (evaluator/executor.py
# writes them; the run report, the lineage audit and the resolvers read them)
BLESSED_PROPERTY = "blessed"                         # 0/1, TFX's name (its Pusher and resolvers read it)
CURRENT_MODEL_ID_PROPERTY = "current_model_id"       # TFX's: the Model a blessing judged
CURRENT_MODEL_PROPERTY = "current_model"
BLESSING_MESSAGE_PROPERTY = "blessing_message"
METRIC_PROPERTY = "metric"                           # the metric judged, and its value for each model:
METRIC_VALUE_PROPERTY = "metric_value"
BASELINE_METRIC_VALUE_PROPERTY = "baseline_metric_value"
CHAMPION_METRIC_VALUE_PROPERTY = "champion_metric_value"
MIN_MAP_PROPERTY = MIN_MAP_KEY                       # the thresholds, named as the parameters
MAX_REGRESSION_PROPERTY = MAX_REGRESSION_KEY
MAX_QUANTIZATION_DROP_PROPERTY = MAX_QUANTIZATION_DROP_KEY
QUANTIZATION_DROP_PROPERTY = "quantization_drop"     # the int8 model's fall below the SavedModel's metric
BASELINE_MODEL_ID_PROPERTY = "baseline_model_id"
BASELINE_MODEL_PROPERTY = "baseline_model"
CHAMPION_MODEL_ID_PROPERTY = "champion_model_id"
CHAMPION_MODEL_PROPERTY = "champion_model"
NUM_IMAGES_PROPERTY = "num_images"
EVAL_SPLIT_PROPERTY = EVAL_SPLIT_KEY
