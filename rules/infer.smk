# Inferring every target gene of L1000 landmark profiles (paper section 3.4): a portable bundle per architecture, then
# streamed inference of the GCTX that inference.input names (docs/inference.md).


rule make_demo_chip:
    input:
        geo=raw_path("geo"),
        map_lm=raw_path("map_lm"),
    output:
        **recorded(chip=DEMO_CHIP),
    log:
        f"{LOGS}/make_demo_chip.log",
    benchmark:
        f"{BENCH}/make_demo_chip.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=config["seed"],
    script:
        f"{SCRIPTS}/make_demo_chip.py"


rule make_demo_l1000:
    input:
        geo=raw_path("geo"),
        chip=demo_l1000_chip(),
        assignment=ASSIGNMENT,
    output:
        **recorded(profiles=f"{RESULTS}/l1000/demo_l1000.gctx"),
    log:
        f"{LOGS}/make_demo_l1000.log",
    benchmark:
        f"{BENCH}/make_demo_l1000.tsv"
    conda:
        "../envs/data.yaml"
    script:
        f"{SCRIPTS}/make_demo_l1000.py"


# inference.architecture: null infers with the D-GEX chosen on validation (GEO-va, or 1000G-va for inference.model: rnaseq),
# which is known only once every architecture is evaluated: a checkpoint, read by inference_outputs().
checkpoint select_architecture:
    input:
        validation=selection_inputs,
    output:
        selection=f"{RESULTS}/selection/{{model}}.json",
        provenance=f"{RESULTS}/selection/{{model}}.json.prov.json",
    log:
        f"{LOGS}/select_architecture/{{model}}.log",
    benchmark:
        f"{BENCH}/select_architecture/{{model}}.tsv"
    wildcard_constraints:
        model="geo|rnaseq",
    conda:
        "../envs/report.yaml"
    params:
        split=lambda wildcards: layout.CRITERIA[wildcards.model],
    script:
        f"{SCRIPTS}/select_architecture.py"


rule write_inference_bundle:
    input:
        unpack(bundle_inputs),
    output:
        **recorded(
            manifest=f"{RESULTS}/bundles/{{arch}}/manifest.json",
            landmarks=f"{RESULTS}/bundles/{{arch}}/landmarks.tsv",
            targets=f"{RESULTS}/bundles/{{arch}}/targets.tsv",
            reference=f"{RESULTS}/bundles/{{arch}}/reference.tsv",
            models=expand(f"{RESULTS}/bundles/{{{{arch}}}}/part{{part}}.keras", part=range(n_parts())),
            reliability=f"{RESULTS}/bundles/{{arch}}/reliability.tsv",
            # the LR baseline, served by dgex-infer --method lr, when the run fits it
            linear=[f"{RESULTS}/bundles/{{arch}}/lr.npz"] if "lr" in config["baselines"]["methods"] else [],
        ),
    log:
        f"{LOGS}/write_inference_bundle/{{arch}}.log",
    benchmark:
        f"{BENCH}/write_inference_bundle/{{arch}}.tsv"
    conda:
        "../envs/dgex.yaml"
    params:
        model=config["inference"]["model"],
        ties=config["quantile_normalization"]["ties"],
        run=config["run_name"],
        lincs_model=config["lincs_model"],
    script:
        f"{SCRIPTS}/write_inference_bundle.py"


rule infer_l1000:
    input:
        unpack(inference_inputs),
    output:
        **recorded(profiles=f"{RESULTS}/inference/{{arch}}/{{name}}.gctx"),
    log:
        f"{LOGS}/infer_l1000/{{arch}}_{{name}}.log",
    benchmark:
        f"{BENCH}/infer_l1000/{{arch}}_{{name}}.tsv"
    wildcard_constraints:
        name=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/dgex.yaml"
    threads: workflow.cores
    params:
        inference=inference_params(),
    script:
        f"{SCRIPTS}/infer_l1000.py"
