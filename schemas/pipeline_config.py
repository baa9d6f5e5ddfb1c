"""Load and validate a TF OD API pipeline.config: every problem as CONFIG:LINE:COL.

`load_pipeline_config(path)` / `parse_pipeline_config_text(text, path)` return a
`PipelineConfig` or raise `ProblemsError` listing all problems found, in order:
syntax errors; unknown fields and invalid enum values (all of them, with the
closest valid name); value errors protobuf reports; fields the table in
`field_support` rejects; impossible values (`config_checks`). Warnings (ignored
fields, OD API defaults worth knowing and, for a config read from a file, a
`fine_tune_checkpoint` that is not on disk) stay on `PipelineConfig.warnings`.
A leading UTF-8 BOM is skipped. No TensorFlow here: `detflow config check`
must stay fast.
"""

from __future__ import annotations

import dataclasses
import pathlib

from google.protobuf import text_format

from schemas import checkpoint_paths, config_checks, config_paths, field_support
from schemas.problems import Problem, ProblemsError, read_user_file
from schemas.protos import pipeline_pb2
from schemas.text_positions import Positions, parse_error_message, scan, strip_bom

_DESCRIPTOR = pipeline_pb2.TrainEvalPipelineConfig.DESCRIPTOR
_UNSUPPORTED_MODELS = {"detr": "DETR", "deepmac": "DeepMAC"}


@dataclasses.dataclass
class PipelineConfig:
    """A validated pipeline.config: the message, where it came from, and field positions."""

    proto: pipeline_pb2.TrainEvalPipelineConfig
    path: str
    text: str
    warnings: list[Problem]
    positions: Positions

    @property
    def meta_architecture(self) -> str:
        """'ssd', 'faster_rcnn' or 'center_net'."""
        return self.proto.model.WhichOneof("model")

    @property
    def model(self):
        """The `Ssd`, `FasterRcnn` or `CenterNet` message."""
        return getattr(self.proto.model, self.meta_architecture)

    @property
    def num_classes(self) -> int:
        """`model.<arch>.num_classes`."""
        return self.model.num_classes

    @property
    def num_classes_path(self) -> str:
        """Dotted name of the num_classes field, for messages."""
        return f"model.{self.meta_architecture}.num_classes"

    def position(self, field_path: str) -> tuple[int, int]:
        """(line, col) of a field, or of its nearest written parent."""
        return self.positions.of(field_path)

    def problem(self, field_path: str, message: str) -> Problem:
        """A Problem placed at `field_path` whose message names the field."""
        line, col = self.position(field_path)
        return Problem(self.path, f"{field_path}: {message}", line, col)

    def summary(self) -> dict:
        """The facts `config check` prints: model, input, training and fine-tuning."""
        from schemas.config_summary import summarize
        return summarize(self)


def load_pipeline_config(path: str | pathlib.Path) -> PipelineConfig:
    """Reads and validates the pipeline.config at `path`; raises ProblemsError.

    Beyond `parse_pipeline_config_text`, warns when `fine_tune_checkpoint`
    names no checkpoint on disk (relative to the current folder or the config's).
    """
    path = str(path)
    config = parse_pipeline_config_text(read_user_file(path), path)
    checkpoint = config.proto.train_config.fine_tune_checkpoint
    if checkpoint and not checkpoint_paths.checkpoint_exists(checkpoint, path):
        looked = " or ".join(config_paths.candidates(checkpoint, path))
        config.warnings = sorted(config.warnings + [config.problem(
            "train_config.fine_tune_checkpoint",
            f"no checkpoint at {looked}: neither a prefix with a .index file nor a folder holding a 'checkpoint' "
            "file or *.index (in it, its checkpoint/ or Format-Serving/); training will fail to restore it")],
            key=lambda p: (p.line, p.col))
    return config


def _at(path: str, positions: Positions, field_path: str, message: str) -> Problem:
    line, col = positions.of(field_path)
    return Problem(path, f"{field_path}: {message}", line, col)


def _scan(text: str, path: str) -> Positions:
    try:
        positions = scan(text, _DESCRIPTOR)
    except text_format.ParseError as error:
        raise ProblemsError([Problem(path, f"syntax error: {parse_error_message(error)}",
                                     error.GetLine() or 0, error.GetColumn() or 0)]) from None
    problems = []
    for issue in positions.issues:
        message = issue.message
        name = issue.path.rpartition(".")[2]
        if issue.path.startswith("model.") and name in _UNSUPPORTED_MODELS:
            message = (f"{_UNSUPPORTED_MODELS[name]} models are not supported by detflow "
                       "(supported: ssd, faster_rcnn, center_net)")
        problems.append(Problem(path, f"{issue.path}: {message}", issue.line, issue.col))
    if problems:
        raise ProblemsError(problems)
    return positions


def parse_pipeline_config_text(text: str, path: str = "<config>") -> PipelineConfig:
    """Parses and validates pipeline.config text; `path` names it in problems."""
    text = strip_bom(text)
    positions = _scan(text, path)
    proto = pipeline_pb2.TrainEvalPipelineConfig()
    try:
        text_format.Parse(text, proto)
    except text_format.ParseError as error:
        line, col = error.GetLine() or 0, error.GetColumn() or 0
        field_path = positions.path_at(line, col)
        prefix = f"{field_path}: " if field_path else ""
        raise ProblemsError([Problem(path, prefix + parse_error_message(error), line, col)]) from None
    errors, warnings = [], []
    for finding in field_support.classify(proto):
        problem = _at(path, positions, finding.path, finding.message)
        (errors if finding.is_error else warnings).append(problem)
    value_errors, value_warnings = config_checks.check(proto)
    errors += [_at(path, positions, p, m) for p, m in value_errors]
    warnings += [_at(path, positions, p, m) for p, m in value_warnings]
    if errors:
        raise ProblemsError(sorted(errors, key=lambda p: (p.line, p.col)))
    return PipelineConfig(proto=proto, path=path, text=text,
                          warnings=sorted(warnings, key=lambda p: (p.line, p.col)), positions=positions)
