"""The architecture plug-ins: every registered family declares what it must, and the rooms keep their boundaries."""
import pytest

from detection.architectures import registry
from detection.architectures.base import Architecture
from pipelines import code_versions
from schemas import field_rules
from schemas.problems import ProblemsError
from tests.detection.detector_fixtures import center_net_proto, frcnn_proto, ssd_proto

# What each family's smallest network holds, by report module: its checkpoint map, declared.
MODULES = {"ssd": {"backbone", "feature_maps", "head_box", "head_class", "head_box_tower", "head_class_tower"},
           "faster_rcnn": {"backbone", "box_classifier_features", "rpn_head", "detection_head_class",
                           "detection_head_box"},
           "center_net": {"backbone", "feature_maps", "head_class", "head_box_scale", "head_box_offset"}}
BUILT = {"ssd": lambda: ssd_proto(num_classes=2, size=64), "faster_rcnn": lambda: frcnn_proto(2),
         "center_net": lambda: center_net_proto(2)}


@pytest.mark.parametrize("name", sorted(registry.ARCHITECTURES))
def test_every_family_declares_its_fields_checkpoint_map_and_exports(name):
    family = registry.ARCHITECTURES[name]
    assert family.name == name and family.config_path == f"model.{name}"
    rules = {rule.key: rule for rule in field_rules.RULES}
    own = [key for key in rules if key.startswith(family.config_path + ".")]
    assert len(own) > 20, f"{name}: its rows of the field table (schemas/field_rules.py)"
    assert family.feature_extractors == rules[f"{family.config_path}.feature_extractor.type"].allowed
    assert family.class_dependent_modules, f"{name}: which modules follow num_classes"
    assert family.exports.tflite or family.exports.tflite_refusal, f"{name}: TFLite, or why not"
    for method in ("build", "task", "prepare", "detect", "module_of"):
        assert getattr(type(family), method) is not getattr(Architecture, method), f"{name}.{method}"
    assert name in MODULES and name in BUILT, f"{name}: add its smallest network to this test"


@pytest.mark.parametrize("name", sorted(registry.ARCHITECTURES))
def test_every_variable_of_a_family_has_its_report_module(name):
    from detection.checkpoints import restore  # pylint: disable=import-outside-toplevel
    bundle = registry.build_detector(BUILT[name]())
    assert registry.architecture_for(BUILT[name]()) is registry.ARCHITECTURES[name]
    assert bundle.model.architecture == name
    modules = {registry.module_of(paths[0]) for _, paths in restore.all_variable_paths(bundle.model)}
    assert modules == MODULES[name]
    assert {m for m in modules if registry.class_dependent(m)} == set(registry.ARCHITECTURES[name]
                                                                     .class_dependent_modules)
    assert type(registry.task_for(bundle)).__module__ == f"detection.architectures.{name}.task"


def test_a_model_no_family_builds_is_refused_naming_the_field():
    proto = ssd_proto()
    proto.model.ClearField("ssd")
    with pytest.raises(ProblemsError, match="model: no model is not supported .use ssd or faster_rcnn or center_net"):
        registry.build_detector(proto)


@pytest.mark.parametrize("entry", ["components.evaluator.executor", "pipelines.cli.predict", "pipelines.cli.evaluate",
                                   "pipelines.cli.export", "detection.serving.model_runner"])
def test_what_runs_a_model_imports_the_serving_library_not_the_trainer_component(entry):
    files = [str(p.relative_to(code_versions.PROJECT_ROOT)) for p in code_versions.module_files((entry,))]
    assert not [f for f in files if f.startswith("components/trainer/")]
    assert any(f.startswith("detection/serving/") for f in files) or entry.startswith("pipelines.cli.")


def test_the_library_imports_no_component_and_no_tfx():
    library = sorted(code_versions.PROJECT_ROOT.glob("detection/**/*.py"))
    modules = tuple(str(p.relative_to(code_versions.PROJECT_ROOT).with_suffix("")).replace("/", ".")
                    .removesuffix(".__init__") for p in library)
    files = [str(p.relative_to(code_versions.PROJECT_ROOT)) for p in code_versions.module_files(modules)]
    assert [f for f in files if not f.startswith(("detection/", "schemas/"))] == []
    assert not [p for p in library if "import tfx" in p.read_text() or "from tfx" in p.read_text()]
