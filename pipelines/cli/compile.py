"""`detflow compile --target kubeflow-v2`: the pipeline as a Kubeflow Pipelines v2 spec; `detflow training-job`:
a multi-worker `detflow train` as a Vertex AI CustomJob or a Kubeflow TFJob."""

from __future__ import annotations

import os
import sys

from pipelines import configs
from pipelines.cli.errors import exit_on_user_error, quiet


@exit_on_user_error
def compile_pipeline(args) -> int:
    """`detflow compile --target kubeflow-v2`: the pipeline-spec JSON through TFX's KubeflowV2DagRunner."""
    quiet()
    from components.trainer.component import TrainerParameters
    from detection.outputs import writable_file
    import json  # pylint: disable=import-outside-toplevel

    from pipelines import kfp_validation, pipeline, pipeline_inputs, runners
    from pipelines.cli.errors import UserError
    from pipelines.cli.run_inputs import check_quantization_gate, job_platform
    from pipelines.settings import PipelineSettings, blessing_gate

    writable_file(args.out, "--out")
    data = pipeline_inputs.DataSource(format=args.format, annotations=args.annotations, images=args.images)
    settings = PipelineSettings(
        root=args.root, data=data, config_path=args.config, label_map_path=args.label_map,
        base_checkpoint=args.base_checkpoint, push_to=args.push_to or os.path.join(args.root, configs.PUSH_DIR),
        evaluation=blessing_gate(args.min_map, args.max_regression, args.max_quantization_drop, args.metric),
        training=TrainerParameters(tflite=tuple(args.tflite or ()),
                                   tflite_representative_size=args.representative_size,
                                   bn_reestimate=args.bn_reestimate, bn_reestimate_batches=args.bn_reestimate_batches,
                                   training_job=job_platform(args)),
        warm_start=args.warm_start, beam_args=tuple(args.beam_arg or ()), portable=True,
        champion=args.champion)
    check_quantization_gate(settings)
    schedule = getattr(args, "schedule", None)
    wrong = kfp_validation.schedule_problems(schedule) if schedule else []
    if wrong:
        raise UserError(f"--schedule: {wrong[0]}")
    dsl = pipeline.create_pipeline(settings)
    out = runners.compile_kubeflow_v2(dsl, args.out, image=args.image)
    print(f"wrote {out} ({len(dsl.components)} nodes: {', '.join(c.id for c in dsl.components)})")
    with open(out, encoding="utf-8") as f:
        job = json.load(f)
    problems = kfp_validation.validate(job, sys.executable, image=args.image)
    if problems:   # detflow's own compile made a spec KFP would refuse: a bug, said before anyone submits it
        print("error: the compiled spec does not validate:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print("validated: KFP's IR schema and loader, every task's inputs, every container's entry point")
    if schedule:
        path = os.path.splitext(out)[0] + ".schedule.json"
        with open(path, "w", encoding="utf-8") as f:
            json.dump(kfp_validation.vertex_schedule(job, schedule, args.project, args.region), f, indent=2)
        print(f"wrote {path}: a Vertex AI Schedule running it on '{schedule}' (UTC)")
    return 0


@exit_on_user_error
def training_job(args) -> int:
    """`detflow training-job`: writes the job spec (components/trainer/training_jobs.py) as JSON."""
    import json  # pylint: disable=import-outside-toplevel

    from components.trainer import training_jobs  # pylint: disable=import-outside-toplevel
    from detection.outputs import writable_file  # pylint: disable=import-outside-toplevel
    writable_file(args.out, "--out")
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    platform = training_jobs.JobPlatform(args.target, args.workers, args.image, args.machine_type, args.accelerator,
                                         args.accelerator_count, name=args.name)
    try:
        spec = (training_jobs.vertex_custom_job if args.target == "vertex" else training_jobs.tfjob)(
            platform, train_args)
    except ValueError as error:
        print(f"detflow training-job: {error}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
    print(f"wrote {args.out}: {args.workers} worker(s) running detflow train {' '.join(train_args)}")
    return 0
