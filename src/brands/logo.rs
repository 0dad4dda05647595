//! A logo's size in pixels, read from its header without decoding it: a PNG's
//! `IHDR` chunk, a JPEG's start-of-frame segment, an SVG root's `width` and
//! `height` (or its `viewBox`). Documents scale a logo to fit, but one of
//! 1×1 px or 40,000 px wide is a mistake (or a decompression bomb) that every
//! document issued under the brand would carry.

use std::ops::RangeInclusive;

/// The width and height a logo may have, each, in pixels (for SVG, CSS pixels:
/// 96 per inch).
pub const LOGO_PIXELS: RangeInclusive<u32> = 16..=4096;

/// What reading a logo's size found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// Width and height in pixels (rounded for SVG).
    Pixels(u32, u32),
    /// An SVG that states no size: neither `width`/`height` nor a `viewBox`.
    Unstated,
    /// The header cannot be read; whether it renders is typst's to say.
    Unreadable,
}

/// The size of a logo of `media_type` (one of `LOGO_TYPES`).
pub fn size(media_type: &str, bytes: &[u8]) -> Size {
    match media_type {
        "image/png" => png(bytes),
        "image/jpeg" => jpeg(bytes),
        "image/svg+xml" => svg(bytes),
        _ => Size::Unreadable,
    }
}

/// The signature, then the first chunk, which must be `IHDR`: length (13),
/// type, width and height as big-endian u32.
fn png(bytes: &[u8]) -> Size {
    if bytes.len() < 24 || &bytes[12..16] != b"IHDR" {
        return Size::Unreadable;
    }
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    Size::Pixels(be(16), be(20))
}

/// Walks the segments after SOI up to the first start-of-frame (SOF0–SOF15
/// but DHT, JPG and DAC), whose payload holds precision, height, width.
fn jpeg(bytes: &[u8]) -> Size {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xff {
            return Size::Unreadable;
        }
        let marker = bytes[at + 1];
        if marker == 0xff {
            at += 1; // fill byte
            continue;
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        let is_sof = (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker);
        if is_sof {
            if at + 9 > bytes.len() {
                return Size::Unreadable;
            }
            let height = u16::from_be_bytes([bytes[at + 5], bytes[at + 6]]);
            let width = u16::from_be_bytes([bytes[at + 7], bytes[at + 8]]);
            return Size::Pixels(width.into(), height.into());
        }
        if marker == 0xda || length < 2 {
            return Size::Unreadable; // image data before any frame header
        }
        at += 2 + length;
    }
    Size::Unreadable
}

/// The root's `width` and `height` when both are absolute lengths, else its
/// `viewBox`'s (what a renderer falls back to).
fn svg(bytes: &[u8]) -> Size {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Size::Unreadable;
    };
    let Ok(document) = roxmltree::Document::parse(text) else {
        return Size::Unreadable;
    };
    let root = document.root_element();
    if root.tag_name().name() != "svg" {
        return Size::Unreadable;
    }
    let length = |name| root.attribute(name).and_then(css_pixels);
    let view_box = root.attribute("viewBox").and_then(|v| {
        let numbers: Vec<f64> = v
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        match numbers[..] {
            [_, _, w, h] => Some((w, h)),
            _ => None,
        }
    });
    let (width, height) = match (length("width"), length("height"), view_box) {
        (Some(w), Some(h), _) => (w, h),
        // One length given: the other follows the viewBox's aspect ratio.
        (Some(w), None, Some((vw, vh))) if vw > 0.0 => (w, w * vh / vw),
        (None, Some(h), Some((vw, vh))) if vh > 0.0 => (h * vw / vh, h),
        (_, _, Some((vw, vh))) => (vw, vh),
        _ => return Size::Unstated,
    };
    let pixels = |v: f64| {
        if v.is_finite() && v > 0.0 {
            v.round().min(f64::from(u32::MAX)) as u32
        } else {
            0
        }
    };
    Size::Pixels(pixels(width), pixels(height))
}

/// An SVG length in CSS pixels; `None` for percentages and what does not parse.
fn css_pixels(value: &str) -> Option<f64> {
    let value = value.trim();
    let split = value
        .find(|c: char| c.is_ascii_alphabetic() || c == '%')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: f64 = number.trim().parse().ok()?;
    let per_unit = match unit {
        "" | "px" => 1.0,
        "in" => 96.0,
        "cm" => 96.0 / 2.54,
        "mm" => 96.0 / 25.4,
        "pt" => 96.0 / 72.0,
        "pc" => 16.0,
        _ => return None,
    };
    Some(number * per_unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 6, 0, 0, 0]);
        bytes
    }

    #[test]
    fn a_png_is_measured_by_its_ihdr() {
        let example = include_bytes!("../../sla-templates/brands/example/logo.png");
        assert_eq!(size("image/png", example), Size::Pixels(192, 96));
        assert_eq!(size("image/png", &png_of(1, 9000)), Size::Pixels(1, 9000));
        assert_eq!(
            size("image/png", b"\x89PNG\r\n\x1a\nnot the rest of a PNG"),
            Size::Unreadable
        );
    }

    #[test]
    fn a_jpeg_is_measured_by_its_frame_header() {
        // SOI, an APP0 segment of 16 bytes, SOF0: length 17, precision 8,
        // height 40, width 120.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0, 16];
        jpeg.extend([0; 14]);
        jpeg.extend([0xff, 0xc0, 0, 17, 8, 0, 40, 0, 120, 3]);
        assert_eq!(size("image/jpeg", &jpeg), Size::Pixels(120, 40));
        assert_eq!(
            size("image/jpeg", b"\xff\xd8\xffnot the rest of a JPEG"),
            Size::Unreadable
        );
    }

    #[test]
    fn an_svg_is_measured_by_its_size_or_view_box() {
        let svg = |attributes: &str| {
            format!(r#"<svg xmlns="http://www.w3.org/2000/svg" {attributes}><rect/></svg>"#)
        };
        let cases = [
            (r#"width="120" height="40""#, Size::Pixels(120, 40)),
            (r#"width="120px" height="1in""#, Size::Pixels(120, 96)),
            (r#"viewBox="0 0 300 100""#, Size::Pixels(300, 100)),
            (
                r#"width="100%" height="100%" viewBox="0,0,64,32""#,
                Size::Pixels(64, 32),
            ),
            (
                r#"width="600" viewBox="0 0 300 100""#,
                Size::Pixels(600, 200),
            ),
            (r#"width="5" height="5""#, Size::Pixels(5, 5)),
            ("", Size::Unstated),
        ];
        for (attributes, expected) in cases {
            assert_eq!(
                size("image/svg+xml", svg(attributes).as_bytes()),
                expected,
                "{attributes}"
            );
        }
        assert_eq!(size("image/svg+xml", b"<svg"), Size::Unreadable);
    }
}
