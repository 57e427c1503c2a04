//! One mail formatted once, then filled in for each recipient.
//!
//! An entry's mail differs from one subscriber to the next only in a few
//! short values (the subscriber's id in the Message-ID, the tokens of their
//! links). Building and encoding the whole MIME message for each of them
//! (headers, both parts, quoted-printable, CRLF) cost most of Candor's own
//! CPU in a large fan-out. A `Template` learns, from the message built a few
//! times with stand-in values, where each value's characters land in the
//! formatted bytes; a recipient's mail is then those bytes with their own
//! characters written in.
//!
//! It holds only where every encoding the builder may choose writes each of
//! the values' characters as it is, one byte for one: the letters, digits,
//! `-` and `_` of ids and URL-safe base64 (7bit, 8bit, quoted-printable and
//! raw headers do; base64 does not). A value's other characters (the `.` of
//! a token) keep their place: they belong to its shape, and a value of
//! another shape needs a template of its own. `learn` checks the result
//! against a fresh build with values unlike any it learned from and gives
//! up (`None`) when the two differ; the caller then builds each mail whole.

/// Where a mail's values go in its formatted bytes.
#[derive(Debug)]
pub struct Template {
    /// The mail formatted with the stand-in values.
    bytes: Vec<u8>,
    segments: Vec<Segment>,
    /// Each value's shape: its length, and its fixed characters where they
    /// are (every free character is `a`).
    shapes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    /// `bytes[from..to]` as they are.
    Literal { from: usize, to: usize },
    /// Characters `from..to` of value `value`.
    Value {
        value: usize,
        from: usize,
        to: usize,
    },
}

/// A character every encoding writes as it is, the same in any place.
fn free(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// `value` with each free character replaced by what `fill` gives for its
/// position.
fn with_free(value: &str, fill: impl Fn(usize) -> u8) -> String {
    value
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            if free(b) {
                char::from(fill(i))
            } else {
                char::from(b)
            }
        })
        .collect()
}

/// The most values a template takes (each needs a stand-in letter of its
/// own, after `a`).
const MOST_VALUES: usize = 24;

impl Template {
    /// Learns where `values` go in what `build` formats from them. `None`
    /// when the mail cannot be filled in this way (see the module's note),
    /// or `build` failed.
    pub fn learn<E>(
        values: &[&str],
        build: impl Fn(&[&str]) -> Result<Vec<u8>, E>,
    ) -> Option<Self> {
        if values.len() > MOST_VALUES || values.iter().any(|v| !v.is_ascii()) {
            return None;
        }
        let format = |filled: &[String]| {
            let refs: Vec<&str> = filled.iter().map(String::as_str).collect();
            build(&refs).ok()
        };
        let shapes: Vec<String> = values.iter().map(|v| with_free(v, |_| b'a')).collect();
        let marked: Vec<String> = (values.iter().enumerate())
            .map(|(k, v)| with_free(v, |_| b'b' + k as u8))
            .collect();
        let plain = format(&shapes)?;
        let marks = format(&marked)?;
        if plain.len() != marks.len() {
            return None;
        }
        // Where each value's free characters are, in order.
        let free_at: Vec<Vec<usize>> = (values.iter())
            .map(|v| {
                (v.bytes().enumerate())
                    .filter(|(_, b)| free(*b))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        let mut seen = vec![0usize; values.len()];
        let mut segments: Vec<Segment> = Vec::new();
        for (at, (&p, &m)) in plain.iter().zip(&marks).enumerate() {
            if p == m {
                match segments.last_mut() {
                    Some(Segment::Literal { to, .. }) if *to == at => *to += 1,
                    _ => segments.push(Segment::Literal {
                        from: at,
                        to: at + 1,
                    }),
                }
                continue;
            }
            let value = usize::from(m.checked_sub(b'b')?);
            if p != b'a' || value >= values.len() {
                return None;
            }
            let char_at = free_at[value][seen[value] % free_at[value].len()];
            seen[value] += 1;
            match segments.last_mut() {
                Some(Segment::Value { value: v, to, .. }) if *v == value && *to == char_at => {
                    *to += 1
                }
                _ => segments.push(Segment::Value {
                    value,
                    from: char_at,
                    to: char_at + 1,
                }),
            }
        }
        // Every value written whole each time it appears.
        if (seen.iter().zip(&free_at)).any(|(n, at)| !at.is_empty() && n % at.len() != 0) {
            return None;
        }
        let template = Self {
            bytes: plain,
            segments,
            shapes,
        };
        // Values unlike those learned from, each position its own: the
        // filled template must be what the builder makes of them.
        // (`-` and `_` every few characters: they must pass as letters do.)
        const PROBE: &[u8] = b"-ZYX_WVU9-TSR_QPO8-NML_KJI7-HGF_EDC6-zyx_wvu5-tsr_qpo4-nml_kji3";
        let probes: Vec<String> = (values.iter().enumerate())
            .map(|(k, v)| with_free(v, |i| PROBE[(i + 7 * k) % PROBE.len()]))
            .collect();
        let probe_refs: Vec<&str> = probes.iter().map(String::as_str).collect();
        let mut filled = Vec::new();
        template.fill(&probe_refs, &mut filled);
        (format(&probes)? == filled).then_some(template)
    }

    /// About the length of a filled copy.
    pub fn size_hint(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `values` have the shapes this template was learned with.
    pub fn fits(&self, values: &[&str]) -> bool {
        values.len() == self.shapes.len()
            && (values.iter().zip(&self.shapes)).all(|(value, shape)| {
                value.len() == shape.len()
                    && (value.bytes().zip(shape.bytes())).all(|(v, s)| {
                        if free(v) {
                            s == b'a'
                        } else {
                            v == s
                        }
                    })
            })
    }

    /// Appends the mail with `values` written in; they must `fit`.
    pub fn fill(&self, values: &[&str], out: &mut Vec<u8>) {
        out.reserve(self.bytes.len());
        for segment in &self.segments {
            match *segment {
                Segment::Literal { from, to } => out.extend_from_slice(&self.bytes[from..to]),
                Segment::Value { value, from, to } => {
                    out.extend_from_slice(&values[value].as_bytes()[from..to])
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for the mail builder: a header, a quoted-printable body
    /// with soft line breaks every 20 characters, and one value twice.
    fn build(values: &[&str]) -> Result<Vec<u8>, ()> {
        let body = format!("Hello. Your link: https://x.test/u?token={}\n", values[1]);
        let mut encoded = String::new();
        for (i, c) in body.replace('=', "=3D").chars().enumerate() {
            if i > 0 && i % 20 == 0 {
                encoded.push_str("=\r\n");
            }
            encoded.push(c);
        }
        Ok(format!(
            "Message-ID: <{}@x.test>\r\n\r\n{encoded}{}",
            values[0], values[1]
        )
        .into_bytes())
    }

    #[test]
    fn a_filled_template_is_the_mail_built_whole() {
        let template = Template::learn(&["id0001", "tok.en_1"], build).expect("learnt");
        for values in [["id0001", "tok.en_1"], ["Zz-9_q", "a-b.Cd9x"]] {
            let mut filled = Vec::new();
            assert!(template.fits(&values));
            template.fill(&values, &mut filled);
            assert_eq!(filled, build(&values).unwrap(), "{values:?}");
        }
    }

    #[test]
    fn values_of_another_shape_do_not_fit() {
        let template = Template::learn(&["id0001", "tok.en_1"], build).expect("learnt");
        assert!(!template.fits(&["id00012", "tok.en_1"]));
        assert!(!template.fits(&["id0001", "toke.n_1"]));
        assert!(!template.fits(&["id0001"]));
    }

    #[test]
    fn an_encoding_that_mixes_characters_is_refused() {
        // Base64 spreads each character over two output bytes.
        let base64 = |values: &[&str]| -> Result<Vec<u8>, ()> {
            use base64::Engine;
            let body = format!("id={} token={}", values[0], values[1]);
            Ok(base64::engine::general_purpose::STANDARD
                .encode(body)
                .into_bytes())
        };
        assert!(Template::learn(&["id0001", "token1"], base64).is_none());
    }

    #[test]
    fn a_builder_that_treats_one_character_apart_is_refused() {
        // Writes `-` as a word: a template learnt with letters would be wrong.
        let odd = |values: &[&str]| -> Result<Vec<u8>, ()> {
            Ok(format!("v={}", values[0].replace('-', "dash")).into_bytes())
        };
        assert!(Template::learn(&["ab-cd"], odd).is_none());
    }
}
