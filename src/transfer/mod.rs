//! Planning and running transfers between the cache and remotes: plan, router, executor.
