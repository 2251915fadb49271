"""Evidence for ORCA's claims on your data: a grid of variants over seeds, summarised in tables.

    from orca_engine.compare import GridSpec, run_grid, summarise_runs, comparison_table
    result = run_grid(config, GridSpec(seeds=(0, 1, 2)), out_dir="compare/digits")
    table = comparison_table(summarise_runs(result.run_dirs))

`summarise_runs` and `comparison_table` are pure and also read runs made elsewhere (the app's
"compare runs" view calls them on a visitor's run folders).
"""
from .grid import CellResult, GridResult, cell_config, ordered_cells, run_grid
from .report import machine_description, settings_notes, write_outputs
from .summary import comparison_table, rows_csv, summarise_runs, table_markdown, variant_label
from .variants import (DEFAULT_FRACTION_VARIANTS, DEFAULT_FRACTIONS, ORCA_RECIPE, PRESETS, VARIANTS, Cell, GridSpec,
                       Variant)

__all__ = ["CellResult", "GridResult", "cell_config", "ordered_cells", "run_grid", "machine_description",
           "settings_notes", "write_outputs", "comparison_table", "rows_csv", "summarise_runs", "table_markdown",
           "variant_label", "DEFAULT_FRACTION_VARIANTS", "DEFAULT_FRACTIONS", "ORCA_RECIPE", "PRESETS", "VARIANTS",
           "Cell", "GridSpec", "Variant"]
