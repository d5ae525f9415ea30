"""The conda environments of `--sdm conda` provide what each rule's scripts import: checked statically, without conda.

Each rule's script and the code of the dgex library it can reach (the names it imports, what those use, module-level
code; a lazy import counts where its function is reachable) are walked with `ast`; every third-party import must
come from a distribution the rule's envs/*.yaml lists.
"""
from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest
import yaml

from helpers import REPO

SCRIPTS = REPO / "workflow_scripts"
PACKAGE = "dgex"


def make_envs():
    """tools/make_envs.py as a module."""
    spec = importlib.util.spec_from_file_location("make_envs", REPO / "tools" / "make_envs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULE_LISTING = """include: "{snakefile}"

import json

for r in workflow.rules:
    if r.script:
        print("SCRIPT_RULE", json.dumps([r.name, str(r.conda_env or ""), str(r.script)]))
"""


def rule_scripts() -> list[tuple[str, str, str]]:
    """(rule, env name, script file) of every rule that runs a script, as Snakemake itself parses rules/*.smk."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(REPO / "config.yaml", tmp)
        (Path(tmp) / "Snakefile").write_text(RULE_LISTING.format(snakefile=REPO / "Snakefile"))
        proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(Path(tmp) / "Snakefile"), "--directory", tmp,
                               "--list-rules"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith("SCRIPT_RULE "):
            name, conda, script = json.loads(line.removeprefix("SCRIPT_RULE "))
            assert conda.startswith("../envs/") and conda.endswith(".yaml"), \
                f"rule {name} runs {script} without a conda: environment"
            out.append((name, Path(conda).stem, Path(script).name))
    assert out, proc.stdout[-2000:]
    return out


class Source:
    """A Python file: its top-level definitions, its module-level statements, and its aliases of dgex modules."""

    def __init__(self, path: Path, module: str):
        self.path, self.module = path, module
        tree = ast.parse(path.read_text(), str(path))
        self.defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        self.top = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and not is_main_block(n)]
        self.aliases = {}  # local name -> dgex module ('from dgex import logs', 'from . import io')
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and self.package_base(node):
                for a in node.names:
                    if module_file(f"{self.package_base(node)}.{a.name}"):
                        self.aliases[a.asname or a.name] = f"{self.package_base(node)}.{a.name}"

    def package_base(self, node: ast.ImportFrom) -> str | None:
        """The dgex module an ImportFrom reads from ('dgex', 'dgex.io'), or None for other packages."""
        if node.level:
            parent = self.module.rsplit(".", node.level)[0]
            return f"{parent}.{node.module}" if node.module else parent
        return node.module if node.module and node.module.split(".")[0] == PACKAGE else None


def is_main_block(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":`, which does not run when the module is imported."""
    return isinstance(node, ast.If) and ast.unparse(node.test).replace("'", '"') == '__name__ == "__main__"'


def module_file(module: str) -> Path | None:
    """The file of a dgex module ('dgex.io'), or None."""
    parts = module.split(".")
    for path in (SCRIPTS.joinpath(*parts).with_suffix(".py"), SCRIPTS.joinpath(*parts, "__init__.py")):
        if path.is_file():
            return path
    return None


@cache
def source(module: str) -> Source:
    return Source(module_file(module), module)


def third_party_imports(script: str) -> dict[str, str]:
    """Top-level name of every non-stdlib module the script can import -> the dgex module (or script) importing it."""
    main = Source(SCRIPTS / script, "__main__")
    todo: list[tuple[Source, str | None]] = [(main, None)] + [(main, name) for name in main.defs]
    seen, found = set(), {}
    while todo:
        src, unit = todo.pop()
        if (src.module, unit) in seen or (unit is not None and unit not in src.defs):
            continue  # a module-level name other than a def runs with the module's top level
        seen.add((src.module, unit))
        for node in (n for stmt in (src.top if unit is None else [src.defs[unit]]) for n in ast.walk(stmt)):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == PACKAGE:
                        todo.append((source(a.name), None))
                    else:
                        found.setdefault(a.name.split(".")[0], src.module)
            elif isinstance(node, ast.ImportFrom):
                base = src.package_base(node)
                if base is None:
                    found.setdefault(node.module.split(".")[0], src.module)
                    continue
                todo.append((source(base), None))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    todo.append((source(sub), None) if module_file(sub) else (source(base), a.name))
            elif isinstance(node, ast.Name) and node.id in src.defs:
                todo.append((src, node.id))
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in src.aliases:
                todo.append((source(src.aliases[node.value.id]), node.attr))
    return {name: where for name, where in found.items() if name not in sys.stdlib_module_names}


def env_packages(env: str) -> set[str]:
    """Canonical names of the distributions envs/<env>.yaml installs (conda and pip entries)."""
    deps = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())["dependencies"]
    names = [d for d in deps if isinstance(d, str)] + [p for d in deps if isinstance(d, dict) for p in d.get("pip", [])]
    return {make_envs().normalize(re.split(r"[=<>!\[ ]", n, maxsplit=1)[0]) for n in names}


def test_every_rule_script_runs_in_an_env_that_provides_its_imports():
    normalize, dists = make_envs().normalize, importlib.metadata.packages_distributions()
    rules = rule_scripts()
    assert len(rules) > 30 and {env for _, env, _ in rules} == {"data", "dgex", "report"}
    problems = []
    for rule, env, script in rules:
        provided = env_packages(env)
        for name, where in sorted(third_party_imports(script).items()):
            assert name in dists, f"{script}: module {name} (imported in {where}) is not installed; which package provides it?"
            candidates = {normalize(d) for d in dists[name]} | ({"tensorflow-cpu"} if name == "tensorflow" else set())
            if not candidates & provided:
                problems.append(f"rule {rule}: {script} imports {name} (in {where}), which envs/{env}.yaml lacks "
                                f"({' or '.join(sorted(candidates))})")
    assert not problems, "\n".join(problems)


def test_the_walk_finds_lazy_imports_where_they_are_reachable():
    """matplotlib inside interpret's plotting functions, psutil inside training; none of TensorFlow for data rules."""
    assert {"tensorflow", "keras"} <= set(third_party_imports("find_major_weights.py"))
    assert "matplotlib" in third_party_imports("plot_major_weights.py")
    assert "psutil" in third_party_imports("train_dgex.py")
    for script in ("make_demo_l1000.py", "deduplicate_geo.py", "fit_baseline.py", "verify_results.py"):
        assert not {"tensorflow", "keras", "psutil", "matplotlib"} & set(third_party_imports(script)), script


def test_envs_are_what_the_generator_writes_from_the_pins():
    tool = make_envs()
    pins = tool.read_pins()
    for env in tool.ENVS:
        assert (REPO / "envs" / f"{env}.yaml").read_text() == tool.render(env, pins), f"envs/{env}.yaml: run tools/make_envs.py"
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "make_envs.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert {f"numpy=={importlib.metadata.version('numpy')}", "cmapPy==4.0.1"} <= set(pins.values())


def test_generator_refuses_an_unpinned_package(tmp_path):
    tool = make_envs()
    (tmp_path / "requirements.txt").write_text("numpy==2.4.6\npandas\n")
    with pytest.raises(ValueError, match=r"'pandas' is not pinned"):
        tool.read_pins(tmp_path / "requirements.txt")
    with pytest.raises(ValueError, match=r"envs/report\.yaml: \['pandas', 'matplotlib', 'h5py', 'cmapPy'\] not pinned"):
        tool.render("report", {"numpy": "numpy==2.4.6"})
