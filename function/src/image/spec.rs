//! What a transformation makes of an image: the output box and how the image fills it
//! ([`Fit`]), the output format and quality ([`Spec`]), and the output size that follows,
//! checked against the limits before any pixel is decoded.

use crate::error::ApiError;
use crate::image::kind::ImageKind;

/// Longest side of any output image.
pub const MAX_OUTPUT_SIDE: u32 = 8192;
/// Largest output, in pixels; the same bound as the input keeps upscaling as cheap as decoding.
pub const MAX_OUTPUT_PIXELS: u64 = super::pipeline::MAX_INPUT_PIXELS;
/// JPEG quality when the request gives none.
pub const DEFAULT_JPEG_QUALITY: u8 = 85;
/// JPEG quality for images shrunk before prediction: high enough that the model sees no
/// compression artefacts, which matter more than a few kilobytes.
pub const PREPROCESS_JPEG_QUALITY: u8 = 90;

/// How the image fills the requested box when both width and height are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Exactly `width` × `height`; the aspect ratio may change.
    Exact,
    /// As large as possible inside `width` × `height`, aspect ratio kept (the default).
    #[default]
    Contain,
    /// Exactly `width` × `height`, aspect ratio kept, the overflow cropped around the centre.
    Cover,
}

impl Fit {
    /// Parses `exact`, `contain` or `cover` (any case).
    ///
    /// # Errors
    /// [`ApiError::InvalidSize`] for any other value.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "exact" => Ok(Self::Exact),
            "contain" => Ok(Self::Contain),
            "cover" => Ok(Self::Cover),
            _ => Err(ApiError::InvalidSize(format!(
                "\"fit\" must be \"exact\", \"contain\" or \"cover\", got {:?}",
                short(value)
            ))),
        }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// JPEG, lossy, with a quality from 1 to 100; transparency is flattened onto white.
    Jpeg,
    /// PNG, lossless.
    Png,
    /// WebP, lossless (the `image` crate has no lossy WebP encoder).
    Webp,
}

impl OutputFormat {
    /// Parses `jpeg` (or `jpg`), `png` or `webp`, also as `image/...` media types (any case).
    ///
    /// # Errors
    /// [`ApiError::InvalidSize`] for any other value.
    pub fn parse(value: &str) -> Result<Self, ApiError> {
        let v = value.trim().to_ascii_lowercase();
        match v.strip_prefix("image/").unwrap_or(&v) {
            "jpeg" | "jpg" => Ok(Self::Jpeg),
            "png" => Ok(Self::Png),
            "webp" => Ok(Self::Webp),
            _ => Err(ApiError::InvalidSize(format!(
                "\"format\" must be \"jpeg\", \"png\" or \"webp\", got {:?}",
                short(value)
            ))),
        }
    }

    /// The format an input is returned in when the request names none: its own, or PNG for
    /// the formats that are only read (GIF, BMP).
    pub fn for_input(kind: ImageKind) -> Self {
        match kind {
            ImageKind::Jpeg => Self::Jpeg,
            ImageKind::Webp => Self::Webp,
            ImageKind::Png | ImageKind::Gif | ImageKind::Bmp => Self::Png,
        }
    }

    /// The name used in requests and responses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
        }
    }

    /// The same format as an [`ImageKind`].
    pub fn kind(self) -> ImageKind {
        match self {
            Self::Jpeg => ImageKind::Jpeg,
            Self::Png => ImageKind::Png,
            Self::Webp => ImageKind::Webp,
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        self.kind().mime()
    }
}

/// What to make of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Requested width; `None` follows from the height and the aspect ratio (both `None`: the
    /// image keeps its size, as when only its format changes).
    pub width: Option<u32>,
    /// Requested height; `None` follows from the width and the aspect ratio.
    pub height: Option<u32>,
    /// How to fill the box when both sides are given.
    pub fit: Fit,
    /// Output format; `None` keeps the input's ([`OutputFormat::for_input`]).
    pub format: Option<OutputFormat>,
    /// JPEG quality, 1–100; ignored by the lossless formats.
    pub quality: u8,
    /// When false, an image already inside the box keeps its size (used by preprocessing).
    pub enlarge: bool,
}

impl Spec {
    /// Re-encodes as `format` at the image's own size.
    pub fn convert_to(format: OutputFormat) -> Self {
        Self {
            width: None,
            height: None,
            fit: Fit::Contain,
            format: Some(format),
            quality: PREPROCESS_JPEG_QUALITY,
            enlarge: false,
        }
    }

    /// The preprocessing spec: longest side at most `max_side`, never enlarged, JPEG.
    pub fn shrink_to_jpeg(max_side: u32) -> Self {
        Self {
            width: Some(max_side),
            height: Some(max_side),
            fit: Fit::Contain,
            format: Some(OutputFormat::Jpeg),
            quality: PREPROCESS_JPEG_QUALITY,
            enlarge: false,
        }
    }
}

/// Checks the requested sides and quality before anything is decoded.
pub fn validate_box(spec: &Spec) -> Result<(), ApiError> {
    for (name, side) in [("width", spec.width), ("height", spec.height)] {
        match side {
            Some(0) => {
                return Err(ApiError::InvalidSize(format!(
                    "\"{name}\" must be at least 1"
                )));
            }
            Some(s) if s > MAX_OUTPUT_SIDE => {
                return Err(ApiError::InvalidSize(format!(
                    "\"{name}\" is {s}; the largest is {MAX_OUTPUT_SIDE}"
                )));
            }
            _ => {}
        }
    }
    if !(1..=100).contains(&spec.quality) {
        return Err(ApiError::InvalidSize(format!(
            "\"quality\" must be from 1 to 100, got {}",
            spec.quality
        )));
    }
    Ok(())
}

/// The output size, as displayed, for a `src_w` × `src_h` (as displayed) input.
///
/// # Errors
/// [`ApiError::InvalidSize`] when a side that follows from the aspect ratio exceeds
/// [`MAX_OUTPUT_SIDE`], or the result exceeds [`MAX_OUTPUT_PIXELS`].
pub fn output_size(src_w: u32, src_h: u32, spec: &Spec) -> Result<(u32, u32), ApiError> {
    let (sw, sh) = (f64::from(src_w.max(1)), f64::from(src_h.max(1)));
    let scaled = |scale: f64| {
        let scale = if spec.enlarge { scale } else { scale.min(1.0) };
        ((sw * scale).round().max(1.0), (sh * scale).round().max(1.0))
    };
    let (w, h) = match (spec.width, spec.height) {
        (Some(w), Some(h)) => match spec.fit {
            Fit::Exact | Fit::Cover => (f64::from(w), f64::from(h)),
            Fit::Contain => {
                let (w, h) = (f64::from(w), f64::from(h));
                let (cw, ch) = scaled((w / sw).min(h / sh));
                // Rounding must not overflow the box by a pixel.
                (cw.min(w), ch.min(h))
            }
        },
        (Some(w), None) => scaled(f64::from(w) / sw),
        (None, Some(h)) => scaled(f64::from(h) / sh),
        (None, None) => (sw, sh),
    };
    let side = f64::from(MAX_OUTPUT_SIDE);
    if w > side || h > side {
        return Err(ApiError::InvalidSize(format!(
            "keeping the {src_w}×{src_h} image's aspect ratio gives {w}×{h}; the largest side is {MAX_OUTPUT_SIDE}"
        )));
    }
    // Both sides are within 1..=8192 here, so the casts are exact.
    let (w, h) = (w as u32, h as u32);
    if u64::from(w) * u64::from(h) > MAX_OUTPUT_PIXELS {
        return Err(ApiError::InvalidSize(format!(
            "{w}×{h} is {:.1} MP; the largest output is {} MP",
            f64::from(w) * f64::from(h) / 1e6,
            MAX_OUTPUT_PIXELS / 1_000_000
        )));
    }
    Ok((w, h))
}

/// Values are echoed in messages; keep them short.
fn short(value: &str) -> String {
    value.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: Option<u32>, height: Option<u32>, fit: Fit) -> Spec {
        Spec {
            width,
            height,
            fit,
            format: None,
            quality: DEFAULT_JPEG_QUALITY,
            enlarge: true,
        }
    }

    #[test]
    fn contain_keeps_the_aspect_ratio_inside_the_box() {
        let s = spec(Some(100), Some(100), Fit::Contain);
        assert_eq!(output_size(400, 200, &s), Ok((100, 50)));
        assert_eq!(output_size(200, 400, &s), Ok((50, 100)));
        assert_eq!(output_size(10, 10, &s), Ok((100, 100)), "enlarges");
        let shrink_only = Spec {
            enlarge: false,
            ..s
        };
        assert_eq!(output_size(10, 10, &shrink_only), Ok((10, 10)));
        assert_eq!(output_size(1000, 1, &s), Ok((100, 1)), "never 0");
    }

    #[test]
    fn exact_and_cover_give_the_box_and_one_side_follows_the_aspect_ratio() {
        assert_eq!(
            output_size(400, 200, &spec(Some(30), Some(70), Fit::Exact)),
            Ok((30, 70))
        );
        assert_eq!(
            output_size(400, 200, &spec(Some(30), Some(70), Fit::Cover)),
            Ok((30, 70))
        );
        assert_eq!(
            output_size(400, 200, &spec(Some(100), None, Fit::Exact)),
            Ok((100, 50))
        );
        assert_eq!(
            output_size(400, 200, &spec(None, Some(100), Fit::Cover)),
            Ok((200, 100))
        );
    }

    #[test]
    fn no_box_keeps_the_size() {
        let s = Spec::convert_to(OutputFormat::Png);
        assert_eq!(validate_box(&s), Ok(()));
        assert_eq!(output_size(321, 123, &s), Ok((321, 123)));
    }

    #[test]
    fn sizes_beyond_the_limits_are_invalid_size() {
        for s in [
            spec(Some(0), Some(10), Fit::Contain),
            spec(Some(8193), None, Fit::Contain),
            spec(Some(10), Some(9000), Fit::Exact),
            Spec {
                quality: 0,
                ..spec(Some(10), None, Fit::Contain)
            },
            Spec {
                quality: 101,
                ..spec(Some(10), None, Fit::Contain)
            },
        ] {
            assert!(
                matches!(validate_box(&s), Err(ApiError::InvalidSize(_))),
                "{s:?}"
            );
        }
        // The height follows from the aspect ratio: 8000 × 4 = 32000 > 8192.
        assert!(matches!(
            output_size(100, 400, &spec(Some(8000), None, Fit::Contain)),
            Err(ApiError::InvalidSize(_))
        ));
        // 8192 × 8192 is 67 MP, over the output pixel limit.
        assert!(matches!(
            output_size(10, 10, &spec(Some(8192), Some(8192), Fit::Exact)),
            Err(ApiError::InvalidSize(_))
        ));
    }

    #[test]
    fn fit_and_format_parse_case_insensitively() {
        assert_eq!(Fit::parse("Cover"), Ok(Fit::Cover));
        assert_eq!(OutputFormat::parse("JPG"), Ok(OutputFormat::Jpeg));
        assert_eq!(OutputFormat::parse("image/webp"), Ok(OutputFormat::Webp));
        assert!(matches!(Fit::parse("fill"), Err(ApiError::InvalidSize(_))));
        assert!(matches!(
            OutputFormat::parse("gif"),
            Err(ApiError::InvalidSize(_))
        ));
    }
}
