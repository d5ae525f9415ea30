"""Rule fit_knn_ge: KNN-GE (each target the mean of its k nearest landmarks), k chosen on validation."""
import json
from pathlib import Path

from threadpoolctl import threadpool_limits

from dgex import rulekit
from dgex.baselines import check_grid, landmarks_and_targets
from dgex.knn import KnnModel, knn_neighbors
from dgex.tuning import load_selection_splits, select_knn, selection_record
from dgex.io import InputError, write_text, write_tsv
from dgex.matrix import Matrix, load_matrix, save_matrix


def main(smk, log):
    selection = dict(smk.params.selection)  # evaluation split -> validation split its k is chosen on
    with threadpool_limits(smk.threads):
        train = load_matrix(smk.input.train)
        ks = check_grid(smk.params.ks, "baselines.knn_k", integer=True)
        if ks[0] > train.n_landmarks:
            raise InputError(f"baselines.knn_k: every k ({ks.tolist()}) is out of range: {smk.input.train} has only "
                             f"{train.n_landmarks} landmarks")
        if ks[-1] > train.n_landmarks:  # the default grid must also serve small runs
            log.warning("baselines.knn_k: leaving out k=%s, above the %d landmarks of %s",
                        ks[ks > train.n_landmarks].tolist(), train.n_landmarks, smk.input.train)
            ks = ks[ks <= train.n_landmarks]
        try:
            neighbors = knn_neighbors(*landmarks_and_targets(train), int(ks[-1]))
        except ValueError as exc:
            raise InputError(f"{smk.input.train}: {exc}") from exc
        splits, validation = load_selection_splits(train, smk.input, selection)
        genes = train.targets
        del train
        curve, best = select_knn(neighbors, ks, validation)
        log.info("validation curve:\n%s", curve.to_string(index=False))
        write_tsv(smk.output.curve, curve, float_format="%.8g")
        write_text(smk.output.chosen, json.dumps(selection_record("knn", "k", curve, best, selection, log), indent=2) + "\n")
        for path in smk.output.predictions:
            split = Path(path).stem
            m = splits[split]
            k = best[selection[split]]
            log.info("%s: k=%d (chosen on %s)", split, k, selection[split])
            pred = KnnModel(neighbors[:, :k]).predict(landmarks_and_targets(m)[0])
            save_matrix(path, Matrix(pred, m.samples, genes, 0))


rulekit.run(snakemake, main)  # noqa: F821
