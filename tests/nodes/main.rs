//! Several pactum nodes on one PostgreSQL log: the real binary (`pactum serve`,
//! `worker`, `import`, `export`) against a real PostgreSQL cluster — the run's
//! (`PACTUM_TEST_POSTGRES_URL`, started by `scripts/test`) or one a test starts for
//! itself, on a free loopback port in a throwaway directory.

mod support;

mod failures;
mod gaps;
mod racing;
mod transfer;
