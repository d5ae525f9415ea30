"""D-GEX workflow library: the logic behind the Snakemake rules, importable and unit-tested."""

__version__ = "0.1.0"
