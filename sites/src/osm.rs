//! Reading OpenStreetMap data: PBF through `osmpbf`, OSM XML (API 0.6) through `quick-xml`,
//! into one in-memory form. Nothing is interpreted here; tags are mapped in [`crate::features`].

use std::collections::BTreeMap;
use std::path::Path;

/// Tags of an element, sorted by key.
pub type Tags = BTreeMap<String, String>;

/// A node: location (degrees) and tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Its tags.
    pub tags: Tags,
}

/// A way: node references in order, and tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Way {
    /// Node ids; some may be absent from the extract (cut at its edge).
    pub refs: Vec<i64>,
    /// Its tags.
    pub tags: Tags,
}

/// A relation member.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// `node`, `way` or `relation`.
    pub kind: &'static str,
    /// Referenced id.
    pub id: i64,
    /// Role (`outer`, `inner`, …).
    pub role: String,
}

/// A relation: members and tags.
#[derive(Clone, Debug, PartialEq)]
pub struct Relation {
    /// Members in order.
    pub members: Vec<Member>,
    /// Its tags.
    pub tags: Tags,
}

/// The elements of one extract, by id (sorted, so every pass over them is deterministic).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OsmData {
    /// Nodes by id.
    pub nodes: BTreeMap<i64, Node>,
    /// Ways by id.
    pub ways: BTreeMap<i64, Way>,
    /// Relations by id.
    pub relations: BTreeMap<i64, Relation>,
}

/// Reads an extract: `.pbf` (by content: a PBF file starts with a BlobHeader, not `<`) or OSM XML.
///
/// # Errors
/// The file cannot be read, or is neither valid PBF nor valid OSM XML (the message names the
/// line and column of an XML error).
pub fn read(path: &Path) -> Result<OsmData, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
    if first == Some(b'<') {
        let text = std::str::from_utf8(&bytes).map_err(|e| format!("{}: not UTF-8 OSM XML: {e}", path.display()))?;
        read_xml(text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        read_pbf(&bytes).map_err(|e| format!("{}: not a readable OSM PBF file: {e}", path.display()))
    }
}

fn read_pbf(bytes: &[u8]) -> Result<OsmData, String> {
    use osmpbf::{Element, ElementReader, RelMemberType};
    let mut data = OsmData::default();
    let tags = |iter: &mut dyn Iterator<Item = (&str, &str)>| iter.map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tags>();
    ElementReader::new(std::io::Cursor::new(bytes))
        .for_each(|element| match element {
            Element::Node(n) => {
                data.nodes.insert(n.id(), Node { lat: n.lat(), lon: n.lon(), tags: tags(&mut n.tags()) });
            }
            Element::DenseNode(n) => {
                data.nodes.insert(n.id(), Node { lat: n.lat(), lon: n.lon(), tags: tags(&mut n.tags()) });
            }
            Element::Way(w) => {
                data.ways.insert(w.id(), Way { refs: w.refs().collect(), tags: tags(&mut w.tags()) });
            }
            Element::Relation(r) => {
                let members = r
                    .members()
                    .map(|m| Member {
                        kind: match m.member_type {
                            RelMemberType::Node => "node",
                            RelMemberType::Way => "way",
                            RelMemberType::Relation => "relation",
                        },
                        id: m.member_id,
                        role: m.role().unwrap_or("").to_string(),
                    })
                    .collect();
                data.relations.insert(r.id(), Relation { members, tags: tags(&mut r.tags()) });
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(data)
}

/// Reads OSM XML (API 0.6 `<osm>` with `<node>`, `<way>`, `<relation>`).
///
/// # Errors
/// Malformed XML, or an element without a parsable `id`, `lat` or `lon` (named with its line and
/// column).
pub fn read_xml(text: &str) -> Result<OsmData, String> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_str(text);
    let mut data = OsmData::default();
    enum Open {
        Node(i64, Node),
        Way(i64, Way),
        Relation(i64, Relation),
        None,
    }
    let mut open = Open::None;
    let attribute = |e: &BytesStart, name: &[u8], at: u64| -> Result<Option<String>, String> {
        for a in e.attributes() {
            let a = a.map_err(|err| format!("{}: malformed attribute: {err}", position(text, at)))?;
            if a.key.as_ref() == name {
                return Ok(Some(a.unescape_value().map_err(|err| format!("{}: {err}", position(text, at)))?.into_owned()));
            }
        }
        Ok(None)
    };
    let number = |e: &BytesStart, name: &str, at: u64| -> Result<f64, String> {
        let element = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let value = attribute(e, name.as_bytes(), at)?.ok_or_else(|| format!("{}: <{element}> has no `{name}`", position(text, at)))?;
        value.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("{}: <{element}> `{name}` is not a finite number: {value:?}", position(text, at)))
    };
    let close = |open: Open, data: &mut OsmData| match open {
        Open::Node(id, n) => {
            data.nodes.insert(id, n);
        }
        Open::Way(id, w) => {
            data.ways.insert(id, w);
        }
        Open::Relation(id, r) => {
            data.relations.insert(id, r);
        }
        Open::None => {}
    };
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| format!("{}: malformed XML: {e}", position(text, reader.error_position())))?;
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                if matches!(e.name().as_ref(), b"node" | b"way" | b"relation") {
                    close(std::mem::replace(&mut open, Open::None), &mut data);
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match e.name().as_ref() {
            b"node" => {
                let id = number(e, "id", at)? as i64;
                let node = Node { lat: number(e, "lat", at)?, lon: number(e, "lon", at)?, tags: Tags::new() };
                open = Open::Node(id, node);
            }
            b"way" => open = Open::Way(number(e, "id", at)? as i64, Way { refs: Vec::new(), tags: Tags::new() }),
            b"relation" => open = Open::Relation(number(e, "id", at)? as i64, Relation { members: Vec::new(), tags: Tags::new() }),
            b"tag" => {
                let (k, v) = (attribute(e, b"k", at)?.unwrap_or_default(), attribute(e, b"v", at)?.unwrap_or_default());
                match &mut open {
                    Open::Node(_, n) => n.tags.insert(k, v),
                    Open::Way(_, w) => w.tags.insert(k, v),
                    Open::Relation(_, r) => r.tags.insert(k, v),
                    Open::None => None,
                };
            }
            b"nd" => {
                if let Open::Way(_, w) = &mut open {
                    w.refs.push(number(e, "ref", at)? as i64);
                }
            }
            b"member" => {
                if let Open::Relation(_, r) = &mut open {
                    let kind = match attribute(e, b"type", at)?.as_deref() {
                        Some("node") => "node",
                        Some("way") => "way",
                        _ => "relation",
                    };
                    r.members.push(Member { kind, id: number(e, "ref", at)? as i64, role: attribute(e, b"role", at)?.unwrap_or_default() });
                }
            }
            _ => {}
        }
        if empty && matches!(e.name().as_ref(), b"node" | b"way" | b"relation") {
            close(std::mem::replace(&mut open, Open::None), &mut data);
        }
    }
    Ok(data)
}

/// `line L, column C` (both from 1, columns in characters) of byte `offset` of `text`.
fn position(text: &str, offset: u64) -> String {
    let mut offset = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn xml_reads_nodes_ways_relations_and_names_a_bad_number() {
        let data = super::read_xml(
            r#"<osm version="0.6"><node id="1" lat="60.1" lon="24.9"><tag k="amenity" v="bench"/></node><node id="2" lat="60.2" lon="24.8"/>
            <way id="5"><nd ref="1"/><nd ref="2"/><nd ref="9"/><tag k="highway" v="footway"/></way>
            <relation id="7"><member type="way" ref="5" role="outer"/><tag k="type" v="multipolygon"/></relation></osm>"#,
        )
        .unwrap();
        assert_eq!(data.nodes.len(), 2);
        assert_eq!(data.nodes[&1].tags["amenity"], "bench");
        assert_eq!(data.ways[&5].refs, vec![1, 2, 9]);
        assert_eq!(data.relations[&7].members[0].role, "outer");
        let err = super::read_xml(r#"<osm><node id="1" lat="NaN" lon="24.9"/></osm>"#).unwrap_err();
        assert!(err.contains("`lat` is not a finite number"), "{err}");
        // Errors name line and column: the element's start, or where the XML breaks.
        let err = super::read_xml("<osm>\n  <node id=\"1\" lat=\"60.1\"/>\n</osm>").unwrap_err();
        assert!(err.starts_with("line 2, column 3: <node> has no `lon`"), "{err}");
        let err = super::read_xml("<osm>\n<node id=\"1\" lat=\"60.1\" lon=\"24.9\">\n</way></osm>").unwrap_err();
        assert!(err.contains("line 3, column") && err.contains("malformed XML"), "{err}");
    }
}
