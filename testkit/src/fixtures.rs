//! The data every kind of test orders with: the cloud-compute order of the
//! replaced system's seed document (`shared/seeds/001_*`), as JSON. Unit tests,
//! the black-box suites (`tests/api`, `tests/nodes`) and the benchmarks share it,
//! so a change to the catalogue changes one place.

use serde_json::{Map, Value, json};

/// The seed's cloud-compute parameters: 4 cores of 2 GB, 40 GB disk, 2 VMs,
/// opportunistic, from 2 December 2019 for 2 days.
pub fn cloud_parameters() -> Value {
    json!({
        "cpu_cores": 4,
        "ram_per_core_gb": 2,
        "local_disk_gb": 40,
        "vm_instances": 2,
        "access_type": "opportunistic",
        "start_date": "2019-12-02",
        "duration_days": 2
    })
}

/// [`cloud_parameters`] as a JSON object's map.
pub fn cloud_parameter_map() -> Map<String, Value> {
    let Value::Object(map) = cloud_parameters() else {
        unreachable!("an object")
    };
    map
}

/// The body of `POST /v1/orders` for the seed's order, titled "Lab cloud".
pub fn cloud_order() -> Value {
    json!({ "service": "cloud-compute", "parameters": cloud_parameters(), "title": "Lab cloud" })
}
