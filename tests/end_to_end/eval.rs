//! `crowdtwin eval`: the regression gate, end to end through the binary.

use super::*;

fn eval(args: &[&str]) -> (i32, String) {
    let output = crowdtwin(&[&["eval", "--suite", "tests/fixtures/mini-suite.ron", "--quiet"], args].concat());
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn a_build_passes_against_its_own_baseline_and_fails_against_a_better_one() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let (first, second, third) = (temp_dir("eval-a"), temp_dir("eval-b"), temp_dir("eval-c"));
    let (code, text) = eval(&["--out", first.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    let a = summary(&first);
    assert_eq!(a["runs"].as_array().unwrap().len(), 2);
    // Per condition: the day run and the foggy dusk run are pooled apart.
    let conditions: Vec<(String, String)> =
        a["conditions"].as_array().unwrap().iter().map(|c| (c["by"].as_str().unwrap().into(), c["condition"].as_str().unwrap().into())).collect();
    for expected in [("light", "day"), ("light", "twilight"), ("weather", "clear"), ("weather", "fog")] {
        assert!(conditions.contains(&(expected.0.into(), expected.1.into())), "{conditions:?}");
    }
    assert!(first.join("small/report.html").is_file() && first.join("small-fog-dusk/runs.parquet").is_file());

    // The same build against its own baseline: identical measurements, every comparison passes.
    let (code, text) = eval(&["--out", second.to_str().unwrap(), "--baseline", first.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    let b = summary(&second);
    assert_eq!(a["measurements"], b["measurements"], "same suite, same seeds: same numbers");
    let comparisons = b["comparisons"].as_array().unwrap();
    assert!(comparisons.iter().any(|c| c["status"] == "pass"));
    assert!(comparisons.iter().all(|c| c["status"] != "regression"));
    let junit = std::fs::read_to_string(second.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), comparisons.len(), "one test case per run × metric × group");
    assert!(junit.contains("failures=\"0\"") && junit.contains("classname=\"small.miss_rate\""));

    // A baseline that was better on every metric, with no noise: the gate fails and says where.
    let mut better = a.clone();
    for m in better["measurements"].as_array_mut().unwrap() {
        let ideal = if m["higher_is_worse"].as_bool().unwrap() { 0.0 } else { 1.0 };
        m["value"] = serde_json::json!(ideal);
        m["standard_error"] = serde_json::json!(0.0);
    }
    std::fs::write(first.join("summary.json"), serde_json::to_vec(&better).unwrap()).unwrap();
    let (code, text) = eval(&["--out", third.to_str().unwrap(), "--baseline", first.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAIL") && text.contains("regression: "), "{text}");
    let junit = std::fs::read_to_string(third.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure message=\"regression: "), "{junit}");
    // A baseline that is not an eval is an error (exit 2), not a failed gate.
    let (code, text) = eval(&["--out", third.to_str().unwrap(), "--baseline", root().join("tests").to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    // So is a baseline of another schema version: both versions are named, nothing is run.
    let current = crowdtwin_core::RECORDS_SCHEMA_VERSION;
    better["schema_version"] = serde_json::json!(current - 1);
    std::fs::write(first.join("summary.json"), serde_json::to_vec(&better).unwrap()).unwrap();
    let fourth = temp_dir("eval-d");
    let (code, text) = eval(&["--out", fourth.to_str().unwrap(), "--baseline", first.to_str().unwrap()]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains(&format!("schema version {}", current - 1)) && text.contains(&format!("schema version {current}")), "{text}");
    assert!(!fourth.join("small").exists(), "no run before the baseline is checked");
    let _ = std::fs::remove_dir_all(&fourth);
    for dir in [first, second, third] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn every_shipped_suite_loads_and_its_runs_are_valid_scenarios() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if !path.to_string_lossy().contains("suite") {
            continue;
        }
        let suite = crowdtwin::eval::Suite::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
        for (i, run) in suite.runs.iter().enumerate() {
            let scenario_path = path.parent().unwrap().join(&run.scenario);
            let mut scenario = crowdtwin::scenario::load_scenario(&scenario_path, run.seconds, run.seed).unwrap();
            let variant = crowdtwin::scenario::Variant { name: Some(suite.run_name(i).unwrap()), time_of_day_h: run.time_of_day_h, conditions: run.conditions.clone(), ..Default::default() };
            crowdtwin::scenario::apply_variant(&mut scenario, &variant, &scenario_path).unwrap();
        }
        checked += 1;
    }
    assert!(checked >= 1, "scenarios/ci-suite.ron");
}

/// A single-node Slurm cluster on loopback (`tools/slurm/local-cluster.sh`), stopped when dropped.
struct SlurmCluster {
    dir: PathBuf,
    conf: PathBuf,
}

impl SlurmCluster {
    fn start(dir: &Path) -> SlurmCluster {
        let port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
        let out = Command::new(root().join("tools/slurm/local-cluster.sh")).arg("start").arg(dir).args([port(), port()]).output().unwrap();
        let cluster = SlurmCluster { dir: dir.to_path_buf(), conf: dir.join("slurm.conf") };
        assert!(out.status.success(), "the Slurm cluster did not start (CI runs as root; `make setup` installs slurm-wlm and munge): {}", String::from_utf8_lossy(&out.stderr));
        cluster
    }
}

impl Drop for SlurmCluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("tools/slurm/local-cluster.sh")).arg("stop").arg(&self.dir).output();
    }
}

#[test]
fn a_suite_sharded_as_a_slurm_job_array_merges_into_the_verdict_of_one_eval() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = temp_dir("eval-shards");
    let (whole, merged, array) = (dir.join("whole"), dir.join("merged"), dir.join("array"));
    let policy = ["--policy", "policies/default.ron"];
    let (code, text) = eval(&[&["--out", whole.to_str().unwrap()][..], &policy].concat());
    // The shards as a real job array on a real (single-node, loopback) Slurm cluster.
    let cluster = SlurmCluster::start(&dir.join("slurm"));
    std::fs::create_dir_all(&array).unwrap();
    let submitted = Command::new("sbatch")
        .args(["--parsable", "--array=0-1"])
        .arg(format!("--output={}/task-%a.log", array.display()))
        .arg(root().join("tools/slurm/eval-array.sbatch"))
        .args(["tests/fixtures/mini-suite.ron", array.to_str().unwrap()])
        .args(policy)
        .env("SLURM_CONF", &cluster.conf)
        .env("CROWDTWIN", env!("CARGO_BIN_EXE_crowdtwin"))
        .current_dir(root())
        .output()
        .unwrap();
    let logs = || (0..2).map(|i| std::fs::read_to_string(array.join(format!("task-{i}.log"))).unwrap_or_default()).collect::<Vec<_>>().join("\n");
    assert!(submitted.status.success(), "sbatch: {}{}\n{}", String::from_utf8_lossy(&submitted.stdout), String::from_utf8_lossy(&submitted.stderr), logs());
    // Done when the queue no longer holds the job (`sbatch --wait` polls with growing pauses).
    let job = String::from_utf8_lossy(&submitted.stdout).trim().to_string();
    let started = std::time::Instant::now();
    loop {
        let queue = Command::new("squeue").args(["-h", "-j", &job]).env("SLURM_CONF", &cluster.conf).output().unwrap();
        let gone = queue.status.success() || String::from_utf8_lossy(&queue.stderr).contains("Invalid job id");
        if gone && queue.stdout.is_empty() {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(600), "job {job} still queued after 10 min: {}", logs());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(cluster);
    let shards: Vec<PathBuf> = (0..2).map(|i| array.join(format!("shard-{i}"))).collect();
    for (i, shard) in shards.iter().enumerate() {
        // Each task ran its own share of the suite, and gave no verdict.
        let folders: Vec<String> = std::fs::read_dir(shard).unwrap().map(|e| e.unwrap()).filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(folders, vec![["small", "small-fog-dusk"][i].to_string()], "shard {i}: {}", logs());
        assert!(shard.join("shard.json").is_file() && !shard.join("summary.json").exists());
    }
    let merge = |args: &[&str]| {
        let output = crowdtwin(&[&["eval", "merge"][..], args].concat());
        (output.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
    };
    let (merged_code, merged_text) = merge(&[shards[1].to_str().unwrap(), shards[0].to_str().unwrap(), "--out", merged.to_str().unwrap(), "--policy", "policies/default.ron"]);
    // The same exit code, summary and junit.xml as one eval of the whole suite.
    assert_eq!((merged_code, code), (code, merged_code), "{text}\n{merged_text}");
    assert_eq!(summary(&merged), summary(&whole));
    assert_eq!(std::fs::read_to_string(merged.join("junit.xml")).unwrap(), std::fs::read_to_string(whole.join("junit.xml")).unwrap());
    assert!(merged.join("small-fog-dusk/runs.parquet").is_file());
    // A missing or duplicate shard is refused (exit 2), naming it.
    let (code, text) = merge(&[shards[0].to_str().unwrap(), "--out", dir.join("m2").to_str().unwrap()]);
    assert!(code == 2 && text.contains("missing shard(s) 1/2"), "{code}: {text}");
    let (code, text) = merge(&[shards[0].to_str().unwrap(), shards[0].to_str().unwrap(), shards[1].to_str().unwrap(), "--out", dir.join("m3").to_str().unwrap()]);
    assert!(code == 2 && text.contains("given twice"), "{code}: {text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn runs_of_one_scenario_and_condition_are_pooled_and_judged_together() {
    let _guard = RENDERER.lock().unwrap_or_else(|e| e.into_inner());
    let out = temp_dir("eval-pool");
    let output = crowdtwin(&["eval", "--suite", "tests/fixtures/seeds-suite.ron", "--quiet", "--policy", "policies/default.ron", "--out", out.to_str().unwrap()]);
    let code = output.status.code().unwrap();
    assert!(code == 0 || code == 1, "{}", String::from_utf8_lossy(&output.stderr));
    let s = summary(&out);
    let pools = s["pools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "{pools:?}");
    let pool = &pools[0];
    assert_eq!(pool["runs"], serde_json::json!(["small-7", "small-8", "small-9"]));
    assert_eq!((pool["light"].as_str(), pool["weather"].as_str()), (Some("day"), Some("clear")));
    // Everybody's pooled group holds every run's persons, and its interval is narrower than a
    // run's own on average (three times the persons, independent clusters).
    let everybody = |m: &serde_json::Value| m["metric"] == "miss_rate" && m["group"] == "everybody";
    let per_run: Vec<&serde_json::Value> = s["measurements"].as_array().unwrap().iter().filter(|m| everybody(m)).collect();
    assert_eq!(per_run.len(), 3);
    let persons: u64 = per_run.iter().map(|m| m["units"].as_u64().unwrap()).sum();
    let pooled = &pool["bias"][0]["groups"][0];
    assert_eq!(pool["bias"][0]["attribute"], "everybody");
    assert_eq!(pooled["persons"].as_u64(), Some(persons));
    assert_eq!(pool["persons"].as_u64(), Some(persons));
    let width = |ci: &serde_json::Value| ci[1].as_f64().unwrap() - ci[0].as_f64().unwrap();
    let pooled_width = width(&pooled["miss_rate_ci"]);
    let widths: Vec<f64> = per_run.iter().map(|m| 2.0 * 1.959_964 * m["standard_error"].as_f64().unwrap()).collect();
    let mean_width = widths.iter().sum::<f64>() / widths.len() as f64;
    assert!(pooled_width < mean_width, "pooled interval {pooled_width} against the runs' {widths:?}");
    // The policy judges the pool too, in the verdicts and in junit.xml.
    let verdicts = s["policy"]["verdicts"].as_array().unwrap();
    let pool_name = pool["name"].as_str().unwrap();
    assert!(pool_name.starts_with("pool:small.ron:day:clear"), "{pool_name}");
    assert_eq!(verdicts.iter().filter(|v| v["run"] == pool_name).count(), pool["verdicts"].as_array().unwrap().len());
    assert!(!pool["verdicts"].as_array().unwrap().is_empty());
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(&format!("classname=\"{pool_name}.policy\"")), "{junit}");
    // An inconclusive line says why, not only that it is.
    let skipped = junit.lines().find(|l| l.contains("<skipped message=\"inconclusive: ")).unwrap_or_else(|| panic!("{junit}"));
    assert!(skipped.contains("persons") || skipped.contains("group"), "{skipped}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn eval_plan_reproduces_the_validated_power_and_sizes_the_suite() {
    let output = crowdtwin(&["eval", "plan", "--suite", "tests/fixtures/seeds-suite.ron", "--gap", "0.05"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}{text}", String::from_utf8_lossy(&output.stderr));
    // The README's validation: 200 persons per group flag a 5-point gap in 100 of 100 planted
    // experiments, and no gap in 4 of 100.
    let line = text.lines().find(|l| l.trim_start().starts_with("200 ")).unwrap_or_else(|| panic!("{text}"));
    let numbers: Vec<f64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    assert_eq!(numbers, vec![200.0, 100.0, 4.0], "{line}");
    assert!(text.contains("for 80 % power: ") && text.contains("for 95 %: "), "{text}");
    // Twelve persons a run: the small scenario's smallest group is far too small.
    let pool = text.lines().find(|l| l.contains("small.ron (day, clear): 3 run(s)")).unwrap_or_else(|| panic!("{text}"));
    assert!(pool.contains("→ short"), "{pool}");
    let bad = crowdtwin(&["eval", "plan", "--suite", "tests/fixtures/seeds-suite.ron", "--gap", "NaN"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--gap"), "{}", String::from_utf8_lossy(&bad.stderr));
}
