"""One module per role: GPU trainer step, host embedding workers, remote lookups, CPU trainers,
sparse and dense parameter servers, readers."""
