//! Alerts out as OASIS Common Alerting Protocol 1.2 messages (CAP 1.2, OASIS Standard, 1 July
//! 2010), the format public-warning and dispatch systems ingest, and their delivery to a webhook.
//!
//! One `<alert>` per alert: `msgType` `Alert`, `scope` `Restricted` (the site's operators), one
//! `<info>` in category `Safety` whose headline and event are the neutral alert text — never a
//! crime label — and whose `<area>` is a circle around the alert's latitude/longitude. Times carry
//! a `±hh:mm` offset (the schema rejects `Z`) and whole seconds. Certainty comes from the
//! confidence ([`certainty`]); urgency is `Immediate` (an operator should look now) and severity
//! `Unknown` (a score says nothing of harm).

use crate::alerts::Alert;
use chrono::{DateTime, Duration, FixedOffset, NaiveTime};
use crowdtwin_core::scenario::CapSettings;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// The CAP 1.2 XML namespace.
pub const CAP_NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// Seconds after an alert closes during which its message stays current for review (`expires`).
pub const REVIEW_WINDOW_S: f64 = 3600.0;

/// The MIME type CAP messages are POSTed with (IANA, RFC 7303 style for CAP).
pub const CAP_MEDIA_TYPE: &str = "application/common-alerting-protocol+xml";

/// What every message of a run shares: sender, status, the clock and the run's name for
/// identifiers.
#[derive(Clone, Debug)]
pub struct CapContext {
    sender: String,
    status: &'static str,
    /// The instant of the run's second 0.
    start: DateTime<FixedOffset>,
    /// `<scenario>-<seed>-<key>`, made safe for identifiers: the key tells runs of the same
    /// scenario and seed with other models, styles or settings apart.
    run: String,
    /// The place, for `areaDesc` and `senderName`.
    site: String,
}

impl CapContext {
    /// The context of a run of `scenario` with `seed` on `site` starting at `time_of_day_h` on the
    /// settings' date, at their offset (or the mean solar time of `longitude_deg`).
    ///
    /// # Errors
    /// A date or offset the scenario check would refuse.
    pub fn new(settings: &CapSettings, time_of_day_h: f32, longitude_deg: Option<f64>, scenario: &str, seed: u64, site: &str) -> Result<Self, String> {
        let offset_s = settings.offset_minutes(longitude_deg)? * 60;
        let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| format!("UTC offset of {offset_s} s is out of range"))?;
        let seconds = (time_of_day_h as f64 * 3600.0).round() as i64;
        let local = settings.parsed_date()?.and_time(NaiveTime::MIN) + Duration::seconds(seconds);
        let start = local.and_local_timezone(offset).single().ok_or("a fixed offset has one local time")?;
        let safe = |text: &str| text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect::<String>();
        Ok(Self { sender: settings.sender.clone(), status: settings.status.cap_value(), start, run: format!("{}-{seed}", safe(scenario)), site: site.into() })
    }

    /// Adds the first 8 hex digits of the sha256 of `run_description` (e.g. the run's record as
    /// JSON) to the identifiers, so that messages of two different runs never share one (CAP
    /// wants an identifier unique to its sender); the same run repeated gives the same ones.
    pub fn with_run_key(mut self, run_description: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(run_description.as_bytes());
        let key: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
        self.run = format!("{}-{key}", self.run);
        self
    }

    /// The instant of the run's second `t`, as CAP writes it (`2026-03-20T10:00:05+01:40`).
    pub fn time(&self, t: f64) -> String {
        (self.start + Duration::seconds(t.round() as i64)).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// Where an alert is: a circle on the WGS84 globe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapCircle {
    /// Latitude, degrees north.
    pub lat_deg: f64,
    /// Longitude, degrees east.
    pub lon_deg: f64,
    /// Radius, kilometres.
    pub radius_km: f64,
}

/// CAP `certainty` from a confidence in percent: `Likely` (≥ 50 %, "p > ~50 %" in CAP 1.2),
/// `Possible` (10–50 %), `Unlikely` (< 10 %). Never `Observed`: a model's score is not an
/// observation.
pub fn certainty(confidence_pct: f64) -> &'static str {
    match confidence_pct {
        c if c >= 50.0 => "Likely",
        c if c >= 10.0 => "Possible",
        _ => "Unlikely",
    }
}

/// The message's identifier: `crowdtwin-<scenario>-<seed>[-<run key>]-<camera>-<tick raised>`,
/// unique in a run (one alert per camera is open at a time) and, with the run key, across runs.
pub fn identifier(context: &CapContext, camera_id: &str, alert: &Alert) -> String {
    let camera: String = camera_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' }).collect();
    format!("crowdtwin-{}-{camera}-{}", context.run, alert.raised_tick)
}

/// One alert as a CAP 1.2 message: (identifier, XML text). `circle` is `None` when the site is
/// not placed on Earth or the alert's region lies above the horizon: the area is then described
/// only (`areaDesc`), as CAP allows.
pub fn message(context: &CapContext, alert: &Alert, camera_id: &str, circle: Option<CapCircle>) -> (String, String) {
    let id = identifier(context, camera_id, alert);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let text = |w: &mut Writer<Vec<u8>>, name: &str, value: &str| {
        w.write_event(Event::Start(BytesStart::new(name))).expect("in memory");
        w.write_event(Event::Text(BytesText::new(value))).expect("in memory");
        w.write_event(Event::End(BytesEnd::new(name))).expect("in memory");
    };
    let open = |w: &mut Writer<Vec<u8>>, name: &str| w.write_event(Event::Start(BytesStart::new(name))).expect("in memory");
    let close = |w: &mut Writer<Vec<u8>>, name: &str| w.write_event(Event::End(BytesEnd::new(name))).expect("in memory");
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).expect("in memory");
    w.write_event(Event::Start(BytesStart::new("alert").with_attributes([("xmlns", CAP_NAMESPACE)]))).expect("in memory");
    text(&mut w, "identifier", &id);
    text(&mut w, "sender", &context.sender);
    // Written, and sent, when the alert closes (its confidence and region are final then).
    text(&mut w, "sent", &context.time(alert.end_s));
    text(&mut w, "status", context.status);
    text(&mut w, "msgType", "Alert");
    text(&mut w, "source", "crowdtwin simulated deployment");
    text(&mut w, "scope", "Restricted");
    text(&mut w, "restriction", "operators of the monitored site");
    open(&mut w, "info");
    text(&mut w, "language", "en-GB");
    text(&mut w, "category", "Safety");
    text(&mut w, "event", "Anomaly alert");
    text(&mut w, "responseType", "Monitor");
    text(&mut w, "urgency", "Immediate");
    text(&mut w, "severity", "Unknown");
    text(&mut w, "certainty", certainty(alert.confidence_pct));
    text(&mut w, "effective", &context.time(alert.raised_s));
    text(&mut w, "onset", &context.time(alert.start_s));
    text(&mut w, "expires", &context.time(alert.end_s + REVIEW_WINDOW_S));
    text(&mut w, "senderName", &format!("crowdtwin — {}", context.site));
    text(&mut w, "headline", alert.text);
    text(
        &mut w,
        "description",
        &format!(
            "{}. Camera {camera_id}: the anomaly score reached the alert threshold at {}, the alert was raised at {} and closed at {} (peak confidence {:.0} %).",
            capitalised(alert.text),
            context.time(alert.start_s),
            context.time(alert.raised_s),
            context.time(alert.end_s),
            alert.confidence_pct
        ),
    );
    let parameter = |w: &mut Writer<Vec<u8>>, name: &str, value: &str| {
        open(w, "parameter");
        text(w, "valueName", name);
        text(w, "value", value);
        close(w, "parameter");
    };
    parameter(&mut w, "camera", camera_id);
    parameter(&mut w, "confidence_pct", &format!("{:.0}", alert.confidence_pct));
    parameter(&mut w, "duration_s", &format!("{:.1}", alert.duration_s()));
    let roi = alert.roi.map(|v| v.round() as i64);
    parameter(&mut w, "roi_px", &format!("{} {} {} {}", roi[0], roi[1], roi[2], roi[3]));
    open(&mut w, "area");
    text(&mut w, "areaDesc", &format!("view of camera {camera_id}, {}", context.site));
    if let Some(c) = circle {
        text(&mut w, "circle", &format!("{:.6},{:.6} {:.3}", c.lat_deg, c.lon_deg, c.radius_km));
    }
    close(&mut w, "area");
    close(&mut w, "info");
    close(&mut w, "alert");
    let mut xml = String::from_utf8(w.into_inner()).expect("UTF-8 in, UTF-8 out");
    xml.push('\n');
    (id, xml)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A webhook that receives each CAP message as an HTTP POST (`Content-Type`
/// [`CAP_MEDIA_TYPE`]). Plain `http://` only: crowdtwin carries no TLS stack (put a relay in
/// front of an `https://` endpoint).
pub struct Webhook {
    url: String,
    agent: ureq::Agent,
}

impl Webhook {
    /// A webhook at `url`, checked reachable now (a TCP connection to its host and port), so a
    /// dead endpoint is named before any frame is rendered.
    ///
    /// # Errors
    /// A URL that is not `http://host[:port]/…`, or an endpoint that does not accept connections.
    pub fn connect(url: &str) -> Result<Self, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| format!("CAP webhook `{url}`: only http:// URLs are supported (no TLS; put a relay in front of https)"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            return Err(format!("CAP webhook `{url}`: no host"));
        }
        let address = if authority.rsplit_once(':').is_some_and(|(_, port)| port.chars().all(|c| c.is_ascii_digit())) { authority.to_string() } else { format!("{authority}:80") };
        let addresses: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&address).map_err(|e| format!("CAP webhook {url}: cannot resolve {address}: {e}"))?.collect();
        let reachable = addresses.iter().any(|a| std::net::TcpStream::connect_timeout(a, std::time::Duration::from_secs(5)).is_ok());
        if !reachable {
            return Err(format!("CAP webhook {url}: nothing accepts connections at {address}"));
        }
        let config = ureq::Agent::config_builder().timeout_global(Some(std::time::Duration::from_secs(10))).http_status_as_error(false).build();
        Ok(Self { url: url.into(), agent: config.into() })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// POSTs one message; any status but 2xx is an error naming the endpoint.
    pub fn post(&self, xml: &str) -> Result<(), String> {
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", CAP_MEDIA_TYPE)
            .send(xml)
            .map_err(|e| format!("CAP webhook {}: {e}", self.url))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(format!("CAP webhook {}: HTTP {status}", self.url)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert {
            camera: 0,
            start_tick: 20,
            start_s: 2.0,
            raised_s: 3.0,
            raised_tick: 30,
            end_tick: 95,
            end_s: 9.5,
            confidence_pct: 72.4,
            roi: [10.0, 20.0, 110.0, 220.0],
            text: crate::alerts::ALERT_TEXT,
        }
    }

    #[test]
    fn times_carry_the_offset_and_whole_seconds() {
        let settings = CapSettings::default();
        // Helsinki's origin (24.94° E): mean solar time is UTC+01:40.
        let context = CapContext::new(&settings, 10.5, Some(24.9384), "kaivopiha", 7, "Kaivopiha").unwrap();
        assert_eq!(context.time(0.0), "2026-03-20T10:30:00+01:40");
        assert_eq!(context.time(3661.4), "2026-03-20T11:31:01+01:40");
        let utc = CapContext::new(&settings, 23.9, None, "t", 1, "template").unwrap();
        assert_eq!(utc.time(600.0), "2026-03-21T00:04:00+00:00", "past midnight: the next day");
        let west = CapSettings { utc_offset: Some("-05:00".into()), ..settings };
        assert_eq!(CapContext::new(&west, 8.0, Some(24.9), "t", 1, "x").unwrap().time(0.0), "2026-03-20T08:00:00-05:00");
    }

    #[test]
    fn a_message_has_the_required_elements_in_schema_order() {
        let context = CapContext::new(&CapSettings::default(), 12.0, Some(25.0), "my scenario", 3, "Kaivopiha").unwrap();
        let (id, xml) = message(&context, &alert(), "north gate", Some(CapCircle { lat_deg: 60.1699, lon_deg: 24.9384, radius_km: 0.0234 }));
        assert_eq!(id, "crowdtwin-my_scenario-3-north_gate-30");
        let keyed = context.clone().with_run_key("{\"masking_model\":\"a\"}");
        let other = context.clone().with_run_key("{\"masking_model\":\"b\"}");
        let (a, b) = (identifier(&keyed, "c", &alert()), identifier(&other, "c", &alert()));
        assert!(a != b && a.len() == "crowdtwin-my_scenario-3-12345678-c-30".len(), "{a} {b}");
        let order = ["<identifier>", "<sender>", "<sent>2026-03-20T12:00:10+01:40</sent>", "<status>Test</status>", "<msgType>Alert</msgType>", "<scope>Restricted</scope>", "<info>", "<category>Safety</category>", "<urgency>", "<severity>", "<certainty>Likely</certainty>", "<effective>2026-03-20T12:00:03+01:40", "<onset>2026-03-20T12:00:02+01:40", "<expires>2026-03-20T13:00:10+01:40", "<headline>", "<parameter>", "<area>", "<areaDesc>", "<circle>60.169900,24.938400 0.023</circle>"];
        let mut at = 0;
        for tag in order {
            let found = xml[at..].find(tag).unwrap_or_else(|| panic!("{tag} missing or out of order in\n{xml}"));
            at += found;
        }
        assert!(xml.contains(&format!("<alert xmlns=\"{CAP_NAMESPACE}\">")));
        assert!(!xml.contains("Z<"), "no Z times");
        let (_, without) = message(&context, &alert(), "c", None);
        assert!(without.contains("<areaDesc>") && !without.contains("<circle>"));
    }

    #[test]
    fn certainty_follows_the_confidence_and_is_never_observed() {
        assert_eq!([certainty(95.0), certainty(50.0), certainty(49.9), certainty(10.0), certainty(3.0)], ["Likely", "Likely", "Possible", "Possible", "Unlikely"]);
    }

    #[test]
    fn a_dead_or_unsupported_webhook_is_named() {
        // A port just released by the OS: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/cap");
        let error = Webhook::connect(&url).err().unwrap();
        assert!(error.contains(&url) && error.contains("nothing accepts connections"), "{error}");
        assert!(Webhook::connect("https://example.org/cap").err().unwrap().contains("only http://"));
    }
}
