use std::path::PathBuf;

/// Where the log lives: a data directory holding `pactum.db`, or a database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageLocation {
    DataDir(PathBuf),
    DatabaseUrl(String),
}

impl std::fmt::Display for StorageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::DataDir(dir) => write!(f, "{}", dir.join("pactum.db").display()),
            Self::DatabaseUrl(url) => f.write_str(url),
        }
    }
}
