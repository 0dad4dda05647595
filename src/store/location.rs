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

impl StorageLocation {
    /// The PostgreSQL URL, when the log is on PostgreSQL.
    pub fn postgres_url(&self) -> Option<&str> {
        match self {
            Self::DatabaseUrl(url)
                if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
            {
                Some(url)
            }
            _ => None,
        }
    }

    /// The SQLite file, when the log is embedded.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        match self {
            Self::DataDir(dir) => Some(dir.join("pactum.db")),
            Self::DatabaseUrl(url) => {
                let path = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))?;
                Some(PathBuf::from(path.split('?').next().unwrap_or(path)))
            }
        }
    }
}
