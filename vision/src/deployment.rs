//! The simulated deployment: where the models run (modality), what leaves each camera (a
//! bitrate model), and what the deployment keeps on disk (retention), enforced here.
//!
//! This storage is the deployment's own, apart from the testbed's evaluation artefacts. It
//! writes exactly what its retention mode allows:
//!
//! * mode 1 — masked frames, and raw frames **encrypted** (XChaCha20-Poly1305, key from a file
//!   outside the run) for warrant access, with a hash-chained access log of every write and read;
//! * mode 2 — masked frames only (raw frames are dropped right after masking);
//! * mode 3 — alert metadata only (time and neutral text), as JSON lines and as CAP 1.2 messages.
//!
//! Frames are stored as JPEG (quality 90), as a recorder would.

use crate::alerts::Alert;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use crowdtwin_core::frame::RgbaImage;
use crowdtwin_core::site::GeoOrigin;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// JPEG quality of stored frames.
pub const STORED_JPEG_QUALITY: u8 = 90;

pub use crowdtwin_core::bandwidth::{camera_traffic, frame_bytes, CameraTraffic};

/// An alert as the deployment keeps and sends it: time, camera, duration, confidence, region,
/// site location (local metres, and WGS84 latitude/longitude when the site has an `origin`: the
/// alert's geolocation) and the neutral text — one JSON line.
pub fn alert_metadata(alert: &Alert, camera_id: &str, location: Option<[f32; 2]>, origin: Option<GeoOrigin>) -> String {
    let location = location.map(|[x, z]| match origin {
        // Seven decimals: about a centimetre, finer than the ground position itself.
        Some(o) => {
            let (lat, lon) = o.to_wgs84(x as f64, z as f64);
            serde_json::json!({ "x_m": round2(x), "z_m": round2(z), "lat": round7(lat), "lon": round7(lon) })
        }
        None => serde_json::json!({ "x_m": round2(x), "z_m": round2(z) }),
    });
    serde_json::json!({
        "camera": camera_id,
        "start_s": alert.start_s,
        "end_s": alert.end_s,
        "duration_s": alert.duration_s(),
        "confidence_pct": alert.confidence_pct.round(),
        "roi": alert.roi.map(|v| v.round()),
        "location": location,
        "text": alert.text,
    })
    .to_string()
}

fn round7(value: f64) -> f64 {
    (value * 1e7).round() / 1e7
}

fn round2(value: f32) -> f64 {
    (value as f64 * 100.0).round() / 100.0
}

/// A 256-bit key for mode-1 raw storage.
#[derive(Clone)]
pub struct StorageKey([u8; 32]);

impl std::fmt::Debug for StorageKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageKey(redacted)") // never print key material
    }
}

impl StorageKey {
    /// Reads a key file: 64 hexadecimal digits (whitespace ignored).
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the key file: {e}", path.display()))?;
        let hex: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{}: a key file holds 64 hexadecimal digits (256 bits); `crowdtwin keygen` writes one", path.display()));
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
        }
        Ok(Self(key))
    }

    /// Writes a fresh random key to `path` (readable by its owner only); refuses to overwrite.
    pub fn generate(path: &Path) -> Result<(), String> {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| format!("{}: cannot create the key file: {e}", path.display()))?;
        file.write_all(format!("{hex}\n").as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Encrypts `plain` bound to `label` (authenticated, not secret): nonce (24 bytes) ‖ ciphertext.
pub fn seal(key: &StorageKey, label: &str, plain: &[u8]) -> Vec<u8> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let sealed = key.cipher().encrypt(&nonce, Payload { msg: plain, aad: label.as_bytes() }).expect("encryption of in-memory bytes");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

/// Decrypts what [`seal`] wrote; fails on a wrong key, a wrong label or any altered byte.
pub fn open(key: &StorageKey, label: &str, sealed: &[u8]) -> Result<Vec<u8>, String> {
    if sealed.len() < 24 + 16 {
        return Err("too short to be a sealed frame".into());
    }
    let (nonce, body) = sealed.split_at(24);
    key.cipher()
        .decrypt(nonce.into(), Payload { msg: body, aad: label.as_bytes() })
        .map_err(|_| "decryption failed: wrong key, or the file was altered".to_string())
}

/// An append-only access log whose every line carries the sha256 of the previous line's hash
/// and its own content, so removing, reordering or editing a line breaks the chain.
pub struct AccessLog {
    path: PathBuf,
    previous: String,
    sequence: u64,
}

/// The hash of the chain before its first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

impl AccessLog {
    /// Opens (or starts) the log at `path`, verifying what is there first.
    pub fn open(path: &Path) -> Result<Self, String> {
        let (sequence, previous) = if path.exists() { verify_log(path)? } else { (0, GENESIS.to_string()) };
        Ok(Self { path: path.to_path_buf(), previous, sequence })
    }

    /// Appends an entry: who did what to which object, and why.
    pub fn append(&mut self, actor: &str, action: &str, object: &str, reason: &str) -> Result<(), String> {
        let body = serde_json::json!({ "seq": self.sequence, "actor": actor, "action": action, "object": object, "reason": reason, "prev": self.previous });
        let hash = chain_hash(&self.previous, &body.to_string());
        let mut line = body;
        line["hash"] = serde_json::Value::String(hash.clone());
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        writeln!(file, "{line}").map_err(|e| format!("{}: {e}", self.path.display()))?;
        self.previous = hash;
        self.sequence += 1;
        Ok(())
    }
}

fn chain_hash(previous: &str, body: &str) -> String {
    let digest = Sha256::new().chain_update(previous.as_bytes()).chain_update(body.as_bytes()).finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks an access log's chain; returns (entries, last hash) or the first broken line.
pub fn verify_log(path: &Path) -> Result<(u64, String), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut previous = GENESIS.to_string();
    let mut count = 0u64;
    for (number, line) in text.lines().enumerate() {
        let broken = |why: &str| format!("{}:{}: access log broken: {why}", path.display(), number + 1);
        let mut entry: serde_json::Value = serde_json::from_str(line).map_err(|_| broken("not a JSON line"))?;
        let stated = entry.as_object_mut().and_then(|o| o.remove("hash")).and_then(|h| h.as_str().map(String::from)).ok_or_else(|| broken("no hash"))?;
        if entry["prev"].as_str() != Some(previous.as_str()) || entry["seq"].as_u64() != Some(count) {
            return Err(broken("it does not follow the line before (removed, reordered or inserted lines)"));
        }
        if chain_hash(&previous, &entry.to_string()) != stated {
            return Err(broken("its content does not match its hash (edited)"));
        }
        previous = stated;
        count += 1;
    }
    Ok((count, previous))
}

/// The deployment's storage under one retention mode.
pub struct Storage {
    root: PathBuf,
    retention: u8,
    key: Option<StorageKey>,
    log: Option<AccessLog>,
    /// Bytes written so far.
    pub bytes_written: u64,
}

/// The label binding a sealed raw frame to its camera and tick.
pub fn raw_label(camera_id: &str, tick: u64) -> String {
    format!("crowdtwin raw frame {camera_id} {tick}")
}

/// Where a frame of `camera_id` at `tick` is stored, under `kind` (`raw` or `masked`).
pub fn frame_path(root: &Path, kind: &str, camera_id: &str, tick: u64) -> PathBuf {
    let extension = if kind == "raw" { "jpg.sealed" } else { "jpg" };
    root.join(kind).join(camera_id).join(format!("{tick:07}.{extension}"))
}

impl Storage {
    /// Storage at `root` (created) under `retention` 1–3; mode 1 needs a key.
    pub fn new(root: &Path, retention: u8, key: Option<StorageKey>) -> Result<Self, String> {
        if !(1..=3).contains(&retention) {
            return Err(format!("retention mode {retention} does not exist (1, 2 or 3)"));
        }
        if retention == 1 && key.is_none() {
            return Err("retention mode 1 stores raw frames encrypted: give a key file (--key-file; `crowdtwin keygen` writes one)".into());
        }
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        let log = if retention == 1 { Some(AccessLog::open(&root.join("access_log.jsonl"))?) } else { None };
        Ok(Self { root: root.to_path_buf(), retention, key: if retention == 1 { key } else { None }, log, bytes_written: 0 })
    }

    /// Keeps what the mode allows of one frame: in mode 1 the masked frame and the sealed raw
    /// frame (logged), in mode 2 the masked frame, in mode 3 nothing. The raw frame is dropped
    /// here in modes 2 and 3 — it never reaches the disk.
    pub fn store_frame(&mut self, camera_id: &str, tick: u64, raw: &RgbaImage, masked: &RgbaImage) -> Result<(), String> {
        if self.retention <= 2 {
            let path = frame_path(&self.root, "masked", camera_id, tick);
            self.write(&path, &jpeg(masked)?)?;
        }
        if self.retention == 1 {
            let key = self.key.as_ref().expect("mode 1 has a key");
            let sealed = seal(key, &raw_label(camera_id, tick), &jpeg(raw)?);
            let path = frame_path(&self.root, "raw", camera_id, tick);
            self.write(&path, &sealed)?;
            let object = path.strip_prefix(&self.root).unwrap_or(&path).display().to_string();
            self.log.as_mut().expect("mode 1 has a log").append("pipeline", "store", &object, "retention mode 1")?;
        }
        Ok(())
    }

    /// Keeps an alert's metadata (every mode).
    pub fn store_alert(&mut self, metadata: &str) -> Result<(), String> {
        let path = self.root.join("alerts.jsonl");
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(file, "{metadata}").map_err(|e| format!("{}: {e}", path.display()))?;
        self.bytes_written += metadata.len() as u64 + 1;
        Ok(())
    }

    /// Keeps an alert's CAP 1.2 message as `cap/<identifier>.xml` (every mode: it holds what
    /// the alert record holds, no pixels).
    pub fn store_cap(&mut self, identifier: &str, xml: &str) -> Result<(), String> {
        let path = self.root.join("cap").join(format!("{identifier}.xml"));
        self.write(&path, xml.as_bytes())
    }

    fn write(&mut self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        self.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

/// Decrypts one stored raw frame under a warrant: verifies the access log, logs the access
/// (actor and reason) and returns the JPEG bytes.
pub fn warrant_access(root: &Path, key: &StorageKey, camera_id: &str, tick: u64, actor: &str, reason: &str) -> Result<Vec<u8>, String> {
    if reason.trim().is_empty() {
        return Err("a warrant access needs a reason".into());
    }
    let path = frame_path(root, "raw", camera_id, tick);
    let sealed = std::fs::read(&path).map_err(|e| format!("{}: no stored raw frame ({e})", path.display()))?;
    let mut log = AccessLog::open(&root.join("access_log.jsonl"))?;
    let object = path.strip_prefix(root).unwrap_or(&path).display().to_string();
    let plain = open(key, &raw_label(camera_id, tick), &sealed);
    let outcome = if plain.is_ok() { "decrypt" } else { "decrypt refused" };
    log.append(actor, outcome, &object, reason)?;
    plain
}

fn jpeg(image: &RgbaImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, STORED_JPEG_QUALITY)
        .encode(&image.pixels, image.width as u16, image.height as u16, jpeg_encoder::ColorType::Rgba)
        .map_err(|e| format!("encoding a stored frame: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crowdtwin-deployment-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn key(byte: u8) -> StorageKey {
        StorageKey([byte; 32])
    }

    #[test]
    fn a_sealed_frame_opens_with_its_key_only() {
        let sealed = seal(&key(1), "label", b"raw pixels");
        assert_eq!(open(&key(1), "label", &sealed).unwrap(), b"raw pixels");
        assert!(open(&key(2), "label", &sealed).is_err(), "wrong key");
        assert!(open(&key(1), "other label", &sealed).is_err(), "moved to another frame");
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(open(&key(1), "label", &altered).is_err(), "altered");
    }

    #[test]
    fn the_access_log_detects_edits_and_removals() {
        let dir = temp("log");
        let path = dir.join("access_log.jsonl");
        let mut log = AccessLog::open(&path).unwrap();
        for i in 0..3 {
            log.append("pipeline", "store", &format!("raw/cam/{i}"), "mode 1").unwrap();
        }
        assert_eq!(verify_log(&path).unwrap().0, 3);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("raw/cam/1", "raw/cam/9")).unwrap();
        assert!(verify_log(&path).unwrap_err().contains(":2:"), "edited line found");
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(&path, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        assert!(verify_log(&path).is_err(), "removed line found");
        std::fs::write(&path, &text).unwrap();
        assert!(AccessLog::open(&path).is_ok());
    }

    #[test]
    fn a_key_file_is_64_hex_digits_and_never_overwritten() {
        let dir = temp("key");
        let path = dir.join("key");
        StorageKey::generate(&path).unwrap();
        assert!(StorageKey::read(&path).is_ok());
        assert!(StorageKey::generate(&path).is_err(), "refuses to overwrite a key");
        std::fs::write(&path, "abc").unwrap();
        assert!(StorageKey::read(&path).unwrap_err().contains("64 hexadecimal"));
    }
}
