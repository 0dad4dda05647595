//! Usage records in the EGI APEL cloud format (`APEL-cloud-message: v0.4`):
//! `Key: value` lines, records separated by `%%`, `NULL` for no value, times
//! in epoch seconds. A message is taken whole or not at all: every bad record
//! and field is named.

use jiff::Timestamp;

/// The header a message must start with.
pub const HEADER: &str = "APEL-cloud-message: v0.4";

/// One cloud usage record.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CloudRecord {
    pub vm_uuid: String,
    pub site_name: String,
    pub machine_name: Option<String>,
    pub local_user_id: Option<String>,
    pub local_group_id: Option<String>,
    pub global_user_name: Option<String>,
    pub fqan: Option<String>,
    /// `started`, `completed` or `suspended`.
    pub status: String,
    pub start_time: Timestamp,
    pub end_time: Option<Timestamp>,
    pub suspend_duration: Option<u64>,
    pub wall_duration: Option<u64>,
    pub cpu_duration: Option<u64>,
    pub cpu_count: Option<u64>,
    pub network_type: Option<String>,
    pub network_inbound: Option<u64>,
    pub network_outbound: Option<u64>,
    pub public_ip_count: Option<u64>,
    /// MB.
    pub memory: Option<u64>,
    /// GB.
    pub disk: Option<u64>,
    pub benchmark_type: Option<String>,
    pub benchmark: Option<f64>,
    pub storage_record_id: Option<String>,
    pub image_id: Option<String>,
    pub cloud_type: Option<String>,
    pub cloud_compute_service: Option<String>,
}

/// Why a message was refused: which record (1-based; 0 for the header) and
/// which field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    pub record: usize,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "record {}, {}: {}", self.record, self.field, self.reason)
    }
}

const STATUSES: [&str; 3] = ["started", "completed", "suspended"];

/// Every record of a message, or every problem in it.
pub fn parse(text: &str) -> Result<Vec<CloudRecord>, Vec<RecordError>> {
    let mut lines = text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let header = lines.next().unwrap_or_default();
    if header != HEADER {
        return Err(vec![RecordError {
            record: 0,
            field: "header".into(),
            reason: format!("the message must start with {HEADER:?}, not {header:?}"),
        }]);
    }
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut number = 0;
    let mut finish = |fields: &mut Vec<(String, String)>,
                      records: &mut Vec<CloudRecord>,
                      errors: &mut Vec<RecordError>| {
        if fields.is_empty() {
            return;
        }
        number += 1;
        match record(number, std::mem::take(fields)) {
            Ok(record) => records.push(record),
            Err(mut more) => errors.append(&mut more),
        }
    };
    for line in lines {
        if line == "%%" {
            finish(&mut fields, &mut records, &mut errors);
        } else if !line.is_empty() {
            match line.split_once(':') {
                Some((key, value)) => fields.push((key.trim().to_owned(), value.trim().to_owned())),
                None => fields.push((line.to_owned(), String::from("\u{0}"))),
            }
        }
    }
    finish(&mut fields, &mut records, &mut errors);
    if errors.is_empty() {
        Ok(records)
    } else {
        Err(errors)
    }
}

fn record(number: usize, fields: Vec<(String, String)>) -> Result<CloudRecord, Vec<RecordError>> {
    let mut errors = Vec::new();
    let mut error = |field: &str, reason: String| {
        errors.push(RecordError {
            record: number,
            field: field.to_owned(),
            reason,
        })
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut r = CloudRecord::default();
    let mut start_time = None;
    let (mut has_uuid, mut has_site, mut has_status, mut has_start) = (false, false, false, false);
    for (key, value) in fields {
        if value == "\u{0}" {
            error(&key, "is not a `Key: value` line".into());
            continue;
        }
        if !seen.insert(key.clone()) {
            error(&key, "appears twice".into());
            continue;
        }
        let text = (value != "NULL" && !value.is_empty()).then(|| value.clone());
        let mut number = |field: &str| -> Option<u64> {
            let raw = text.as_ref()?;
            match raw.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    error(field, format!("{raw:?} is not a whole number"));
                    None
                }
            }
        };
        match key.as_str() {
            "VMUUID" => {
                has_uuid = text.is_some();
                r.vm_uuid = text.unwrap_or_default();
            }
            "SiteName" => {
                has_site = text.is_some();
                r.site_name = text.unwrap_or_default();
            }
            "MachineName" => r.machine_name = text,
            "LocalUserId" => r.local_user_id = text,
            "LocalGroupId" => r.local_group_id = text,
            "GlobalUserName" => r.global_user_name = text,
            "FQAN" => r.fqan = text,
            "Status" => {
                has_status = true;
                match text.as_deref() {
                    Some(s) if STATUSES.contains(&s) => r.status = s.to_owned(),
                    other => error(
                        "Status",
                        format!("{other:?} is not one of {}", STATUSES.join(", ")),
                    ),
                }
            }
            "StartTime" => {
                has_start = true;
                start_time = number("StartTime");
                if text.is_none() {
                    error("StartTime", "is required (epoch seconds)".into());
                }
            }
            "EndTime" => {
                r.end_time = number("EndTime").and_then(|s| Timestamp::from_second(s as i64).ok())
            }
            "SuspendDuration" => r.suspend_duration = number("SuspendDuration"),
            "WallDuration" => r.wall_duration = number("WallDuration"),
            "CpuDuration" => r.cpu_duration = number("CpuDuration"),
            "CpuCount" => r.cpu_count = number("CpuCount"),
            "NetworkType" => r.network_type = text,
            "NetworkInbound" => r.network_inbound = number("NetworkInbound"),
            "NetworkOutbound" => r.network_outbound = number("NetworkOutbound"),
            "PublicIPCount" => r.public_ip_count = number("PublicIPCount"),
            "Memory" => r.memory = number("Memory"),
            "Disk" => r.disk = number("Disk"),
            "BenchmarkType" => r.benchmark_type = text,
            "Benchmark" => {
                r.benchmark = match text.as_deref().map(str::parse::<f64>) {
                    None => None,
                    Some(Ok(b)) if b.is_finite() && b >= 0.0 => Some(b),
                    Some(_) => {
                        error("Benchmark", format!("{value:?} is not a number"));
                        None
                    }
                }
            }
            "StorageRecordId" => r.storage_record_id = text,
            "ImageId" => r.image_id = text,
            "CloudType" => r.cloud_type = text,
            "CloudComputeService" => r.cloud_compute_service = text,
            other => error(other, "is not a field of APEL cloud records v0.4".into()),
        }
    }
    if !has_uuid {
        error("VMUUID", "is required".into());
    }
    if !has_site {
        error("SiteName", "is required".into());
    }
    if !has_status {
        error("Status", "is required".into());
    }
    match start_time.map(|s| Timestamp::from_second(s as i64)) {
        Some(Ok(at)) => r.start_time = at,
        Some(Err(_)) => error("StartTime", "is out of range".into()),
        None if !has_start => error("StartTime", "is required (epoch seconds)".into()),
        None => {}
    }
    if let Some(end) = r.end_time
        && end < r.start_time
    {
        error("EndTime", "is before StartTime".into());
    }
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "APEL-cloud-message: v0.4
VMUUID: 2026-03-01 09:15:01+00:00 CESNET vm-0
SiteName: CESNET-MCC
MachineName: one-0
LocalUserId: 5
LocalGroupId: vo.alpha
GlobalUserName: NULL
FQAN: /vo.alpha/Role=NULL
Status: completed
StartTime: 1772356501
EndTime: 1772442901
SuspendDuration: NULL
WallDuration: 86400
CpuDuration: 172800
CpuCount: 2
NetworkType: NULL
NetworkInbound: 0
NetworkOutbound: 0
PublicIPCount: 1
Memory: 4096
Disk: 40
BenchmarkType: HEPSPEC
Benchmark: 10.5
StorageRecordId: NULL
ImageId: ubuntu-22.04
CloudType: OpenStack
%%
VMUUID: vm-1
SiteName: CESNET-MCC
Status: started
StartTime: 1772356501
%%
";

    #[test]
    fn good_records_parse_with_nulls_as_nothing() {
        let records = parse(GOOD).unwrap();
        assert_eq!(records.len(), 2);
        let r = &records[0];
        assert_eq!(r.vm_uuid, "2026-03-01 09:15:01+00:00 CESNET vm-0");
        assert_eq!(r.local_group_id.as_deref(), Some("vo.alpha"));
        assert_eq!(r.global_user_name, None);
        assert_eq!((r.cpu_count, r.wall_duration), (Some(2), Some(86400)));
        assert_eq!(r.start_time, Timestamp::from_second(1_772_356_501).unwrap());
        assert_eq!(r.benchmark, Some(10.5));
        assert_eq!(records[1].end_time, None);
    }

    #[test]
    fn every_bad_record_and_field_is_named_and_nothing_is_taken() {
        let bad = "APEL-cloud-message: v0.4
VMUUID: vm-1
SiteName: CESNET-MCC
Status: completed
StartTime: yesterday
CpuCount: -2
%%
VMUUID: vm-2
Status: running
StartTime: 1772356501
EndTime: 1772356500
Colour: blue
%%
";
        let errors = parse(bad).unwrap_err();
        let named: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.record, e.field.as_str()))
            .collect();
        assert_eq!(
            named,
            [
                (1, "StartTime"),
                (1, "CpuCount"),
                (2, "Status"),
                (2, "Colour"),
                (2, "SiteName"),
                (2, "EndTime"),
            ],
            "{errors:?}"
        );
        assert!(errors[0].to_string().contains("record 1, StartTime"));
        let wrong = parse("APEL-cloud-message: v0.2\n").unwrap_err();
        assert_eq!(wrong[0].field, "header");
        let twice = parse("APEL-cloud-message: v0.4\nVMUUID: a\nVMUUID: b\nSiteName: s\nStatus: started\nStartTime: 1\n").unwrap_err();
        assert_eq!((twice[0].record, twice[0].field.as_str()), (1, "VMUUID"));
    }
}
