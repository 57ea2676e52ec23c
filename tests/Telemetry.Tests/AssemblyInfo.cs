// Listeners and meters are process-wide: one test at a time, so every span and measurement a test sees is its own.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
