//! Image decoding, resizing and encoding for `POST /resize` and prediction preprocessing.
//!
//! One pipeline, bounded at every step so a hostile upload cannot exhaust a 512 MB Lambda:
//!
//! 1. sniff the format ([`ImageKind`]) and read only the header: over [`MAX_INPUT_PIXELS`], or
//!    more than [`MAX_DECODED_BYTES`] once decoded, is rejected before any pixel is decoded
//!    (decompression bombs);
//! 2. decode the first frame (animated GIF and WebP included) with `image::Limits` as a second
//!    fence, and read the EXIF orientation;
//! 3. resize with `fast_image_resize` (SIMD, Lanczos3) in the stored orientation, then rotate or
//!    flip the small result, so orientation never copies a full-size image;
//! 4. encode as JPEG, PNG or WebP (lossless) from bare pixels: EXIF, XMP and ICC metadata are
//!    not carried over;
//! 5. refuse results over [`MAX_OUTPUT_BYTES`], which could not be returned by Lambda.
//!
//! Errors are [`ApiError`]s: `invalid_image` for anything that is not a decodable image within
//! the limits, `invalid_size` for impossible dimensions, `output_too_large` for step 5.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::images::{Image as FrImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, GrayAlphaImage, GrayImage, ImageBuffer, ImageDecoder,
    ImageEncoder, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage,
};

use crate::error::ApiError;
use crate::image_kind::ImageKind;

/// Largest input accepted, in pixels (40 MP): a 24 MP camera or 12 MP phone photo fits, and the
/// worst case, an 8-bit RGBA image (160 MB decoded, plus the resizer's premultiplied copy),
/// peaks at about 320 MB (measured by `bench/resize`), inside the function's 512 MB.
pub const MAX_INPUT_PIXELS: u64 = 40_000_000;
/// Largest decoded buffer, in bytes: 40 MP at 4 bytes a pixel. 16-bit images therefore have a
/// lower pixel limit (20 MP for RGBA16), since they decode to twice the bytes.
pub const MAX_DECODED_BYTES: u64 = 160_000_000;
/// Longest side of any output image.
pub const MAX_OUTPUT_SIDE: u32 = 8192;
/// Largest output, in pixels; the same bound as the input keeps upscaling as cheap as decoding.
pub const MAX_OUTPUT_PIXELS: u64 = MAX_INPUT_PIXELS;
/// Largest encoded output: Lambda returns at most 6 MB (6,291,456 bytes) and the image travels
/// base64-encoded (4/3 larger) inside a JSON document, so about 4.5 MB of raw bytes fit.
pub const MAX_OUTPUT_BYTES: usize = 4_500_000;
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

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// What to make of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Requested width; `None` follows from the height and the aspect ratio.
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

/// An encoded result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Width in pixels, as displayed (EXIF orientation applied).
    pub width: u32,
    /// Height in pixels, as displayed.
    pub height: u32,
    /// The format of `bytes`.
    pub format: OutputFormat,
}

/// Decodes, resizes and re-encodes an image per `spec`.
///
/// # Errors
/// [`ApiError::InvalidImage`] when the bytes are not a decodable JPEG, PNG, WebP, GIF or BMP
/// within the pixel limits; [`ApiError::InvalidSize`] when the requested or resulting size is
/// out of range; [`ApiError::OutputTooLarge`] when the encoded result exceeds
/// [`MAX_OUTPUT_BYTES`].
pub fn transform(bytes: &[u8], spec: &Spec) -> Result<Encoded, ApiError> {
    // The decoders are fuzzed upstream and the proptests below find no panic, but this runs on
    // untrusted bytes in a process that serves later requests: a decoder bug must become a 400,
    // not a crashed invocation.
    catch_unwind(AssertUnwindSafe(|| transform_unguarded(bytes, spec))).unwrap_or_else(|_| {
        tracing::error!(
            input_bytes = bytes.len(),
            "image pipeline panicked; answered invalid_image"
        );
        Err(ApiError::InvalidImage(
            "the image could not be decoded".to_owned(),
        ))
    })
}

fn transform_unguarded(bytes: &[u8], spec: &Spec) -> Result<Encoded, ApiError> {
    validate_box(spec)?;
    let (image, kind, orientation) = decode(bytes)?;
    let swapped = swaps_sides(orientation);
    let (shown_w, shown_h) = if swapped {
        (image.height(), image.width())
    } else {
        (image.width(), image.height())
    };
    let (out_w, out_h) = output_size(shown_w, shown_h, spec)?;
    // Resize in the stored orientation, so the target's sides are swapped along with it.
    let (stored_w, stored_h) = if swapped {
        (out_h, out_w)
    } else {
        (out_w, out_h)
    };
    let crop = spec.fit == Fit::Cover && spec.width.is_some() && spec.height.is_some();
    let mut resized = resize(image, stored_w, stored_h, crop)?;
    resized.apply_orientation(orientation);
    let format = spec.format.unwrap_or(OutputFormat::for_input(kind));
    let encoded = encode(&resized, format, spec.quality)?;
    if encoded.len() > MAX_OUTPUT_BYTES {
        return Err(ApiError::OutputTooLarge(format!(
            "the {out_w}×{out_h} {} result is {} bytes; at most {MAX_OUTPUT_BYTES} bytes can be returned: ask for fewer pixels, JPEG or a lower quality",
            format.name(),
            encoded.len()
        )));
    }
    Ok(Encoded {
        bytes: encoded,
        width: out_w,
        height: out_h,
        format,
    })
}

/// Checks the requested sides before anything is decoded.
fn validate_box(spec: &Spec) -> Result<(), ApiError> {
    if spec.width.is_none() && spec.height.is_none() {
        return Err(ApiError::InvalidSize(
            "give \"width\", \"height\" or both".to_owned(),
        ));
    }
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

/// Reads the header, checks the limits, then decodes the first frame.
fn decode(bytes: &[u8]) -> Result<(DynamicImage, ImageKind, Orientation), ApiError> {
    let kind = ImageKind::sniff(bytes).ok_or_else(|| {
        ApiError::InvalidImage("the data is not a JPEG, PNG, WebP, GIF or BMP image".to_owned())
    })?;
    let format = match kind {
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Webp => ImageFormat::WebP,
        ImageKind::Gif => ImageFormat::Gif,
        ImageKind::Bmp => ImageFormat::Bmp,
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(u32::from(u16::MAX));
    limits.max_image_height = Some(u32::from(u16::MAX));
    // Decoders' own scratch space counts too; the decoded buffer is checked exactly below.
    limits.max_alloc = Some(MAX_DECODED_BYTES + 64 * 1024 * 1024);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| undecodable(kind, &e))?;

    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Err(ApiError::InvalidImage(format!(
            "the {} image is {w}×{h} pixels",
            kind_name(kind)
        )));
    }
    if pixels > MAX_INPUT_PIXELS || decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(ApiError::InvalidImage(format!(
            "the image is {w}×{h} pixels ({:.1} MP, {} bytes decoded); the limit is {} MP and {MAX_DECODED_BYTES} bytes",
            pixels as f64 / 1e6,
            decoder.total_bytes(),
            MAX_INPUT_PIXELS / 1_000_000
        )));
    }
    // A malformed EXIF block is no reason to refuse the picture: show it as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| undecodable(kind, &e))?;
    Ok((image, kind, orientation))
}

fn undecodable(kind: ImageKind, err: &image::ImageError) -> ApiError {
    ApiError::InvalidImage(match err {
        image::ImageError::Limits(_) => format!(
            "the {} image exceeds the decoding limits ({} MP)",
            kind_name(kind),
            MAX_INPUT_PIXELS / 1_000_000
        ),
        // Decoder messages describe the data ("unexpected EOF", "invalid Huffman code"), never
        // echo it, so they help the client and are safe to return.
        e => format!("the {} image could not be decoded: {e}", kind_name(kind)),
    })
}

fn kind_name(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Jpeg => "JPEG",
        ImageKind::Png => "PNG",
        ImageKind::Webp => "WebP",
        ImageKind::Gif => "GIF",
        ImageKind::Bmp => "BMP",
    }
}

/// Whether displaying the image swaps its stored width and height.
fn swaps_sides(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
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
        (None, None) => {
            return Err(ApiError::InvalidSize(
                "give \"width\", \"height\" or both".to_owned(),
            ));
        }
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

/// Resizes to `w` × `h` with Lanczos3, cropping around the centre first when `crop`.
/// Colour types other than 8-bit L, LA, RGB and RGBA are converted to 8-bit RGB(A) first.
fn resize(image: DynamicImage, w: u32, h: u32, crop: bool) -> Result<DynamicImage, ApiError> {
    if image.width() == w && image.height() == h {
        return Ok(image);
    }
    let (sw, sh) = (image.width(), image.height());
    let (pixel_type, buffer) = match image {
        DynamicImage::ImageLuma8(b) => (PixelType::U8, b.into_raw()),
        DynamicImage::ImageLumaA8(b) => (PixelType::U8x2, b.into_raw()),
        DynamicImage::ImageRgb8(b) => (PixelType::U8x3, b.into_raw()),
        DynamicImage::ImageRgba8(b) => (PixelType::U8x4, b.into_raw()),
        other if other.color().has_alpha() => (PixelType::U8x4, other.into_rgba8().into_raw()),
        other => (PixelType::U8x3, other.into_rgb8().into_raw()),
    };
    let src = ImageRef::new(sw, sh, &buffer, pixel_type).map_err(internal)?;
    let mut dst = FrImage::new(w, h, pixel_type);
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if crop {
        options = options.fit_into_destination(None);
    }
    Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(internal)?;
    let out = dst.into_vec();
    let image = match pixel_type {
        PixelType::U8 => GrayImage::from_raw(w, h, out).map(DynamicImage::ImageLuma8),
        PixelType::U8x2 => GrayAlphaImage::from_raw(w, h, out).map(DynamicImage::ImageLumaA8),
        PixelType::U8x3 => RgbImage::from_raw(w, h, out).map(DynamicImage::ImageRgb8),
        _ => RgbaImage::from_raw(w, h, out).map(DynamicImage::ImageRgba8),
    };
    image.ok_or_else(|| internal("resized buffer has the wrong length"))
}

/// A resizer failure on buffers built above is a bug: log it, answer 500.
fn internal(err: impl std::fmt::Display) -> ApiError {
    tracing::error!(reason = %err, "image resize failed");
    ApiError::Internal
}

/// Encodes without metadata: only pixels reach the encoder.
fn encode(image: &DynamicImage, format: OutputFormat, quality: u8) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    let result = match format {
        OutputFormat::Jpeg => {
            let flat = flatten_onto_white(image);
            JpegEncoder::new_with_quality(&mut out, quality).write_image(
                flat.as_bytes(),
                flat.width(),
                flat.height(),
                flat.color().into(),
            )
        }
        OutputFormat::Png => {
            let image = to_8bit(image);
            PngEncoder::new(&mut out).write_image(
                image.as_bytes(),
                image.width(),
                image.height(),
                image.color().into(),
            )
        }
        OutputFormat::Webp => {
            let image = to_8bit(image);
            WebPEncoder::new_lossless(&mut out).write_image(
                image.as_bytes(),
                image.width(),
                image.height(),
                ExtendedColorType::from(image.color()),
            )
        }
    };
    result.map_err(|e| {
        tracing::error!(reason = %e, format = format.name(), "image encoding failed");
        ApiError::Internal
    })?;
    Ok(out)
}

/// 8-bit L, LA, RGB or RGBA, the types every encoder here takes (resized images already are).
fn to_8bit(image: &DynamicImage) -> std::borrow::Cow<'_, DynamicImage> {
    use std::borrow::Cow;
    match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => Cow::Borrowed(image),
        other if other.color().has_alpha() => {
            Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8()))
        }
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    }
}

/// JPEG has no alpha: composite onto white (what a viewer shows), keeping grey images grey.
fn flatten_onto_white(image: &DynamicImage) -> DynamicImage {
    let blend = |c: u8, a: u8| -> u8 {
        let (c, a) = (u32::from(c), u32::from(a));
        ((c * a + 255 * (255 - a) + 127) / 255) as u8
    };
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => image.clone(),
        DynamicImage::ImageLumaA8(b) => {
            DynamicImage::ImageLuma8(ImageBuffer::from_fn(b.width(), b.height(), |x, y| {
                let p = b.get_pixel(x, y).0;
                image::Luma([blend(p[0], p[1])])
            }))
        }
        other if other.color().has_alpha() => {
            let rgba = other.to_rgba8();
            DynamicImage::ImageRgb8(ImageBuffer::from_fn(rgba.width(), rgba.height(), |x, y| {
                let [r, g, b, a] = rgba.get_pixel(x, y).0;
                image::Rgb([blend(r, a), blend(g, a), blend(b, a)])
            }))
        }
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    }
}

/// Values are echoed in messages; keep them short.
fn short(value: &str) -> String {
    value.chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GenericImageView, Rgb, Rgba};
    use proptest::prelude::*;

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

    /// A `w` × `h` RGB gradient, so resampling has something to do.
    fn gradient(w: u32, h: u32) -> RgbImage {
        ImageBuffer::from_fn(w, h, |x, y| {
            Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
        })
    }

    fn encode_as(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn decoded(bytes: &[u8]) -> DynamicImage {
        image::load_from_memory(bytes).unwrap()
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
    fn sizes_beyond_the_limits_are_invalid_size() {
        for s in [
            spec(None, None, Fit::Contain),
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

    #[test]
    fn every_input_format_round_trips_to_every_output_format() {
        let source = DynamicImage::ImageRgb8(gradient(64, 32));
        for input in [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Bmp,
        ] {
            let bytes = encode_as(&source, input);
            for output in [OutputFormat::Jpeg, OutputFormat::Png, OutputFormat::Webp] {
                let s = Spec {
                    format: Some(output),
                    ..spec(Some(16), None, Fit::Contain)
                };
                let out = transform(&bytes, &s).unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!((out.width, out.height, out.format), (16, 8, output));
                let back = decoded(&out.bytes);
                assert_eq!(back.dimensions(), (16, 8), "{input:?} → {output:?}");
                assert_eq!(
                    image::guess_format(&out.bytes).unwrap(),
                    match output {
                        OutputFormat::Jpeg => ImageFormat::Jpeg,
                        OutputFormat::Png => ImageFormat::Png,
                        OutputFormat::Webp => ImageFormat::WebP,
                    }
                );
            }
        }
    }

    #[test]
    fn the_input_format_is_kept_unless_it_cannot_be_written() {
        let source = DynamicImage::ImageRgb8(gradient(20, 20));
        for (input, expected) in [
            (ImageFormat::Jpeg, OutputFormat::Jpeg),
            (ImageFormat::Png, OutputFormat::Png),
            (ImageFormat::WebP, OutputFormat::Webp),
            (ImageFormat::Gif, OutputFormat::Png),
            (ImageFormat::Bmp, OutputFormat::Png),
        ] {
            let out = transform(
                &encode_as(&source, input),
                &spec(Some(10), None, Fit::Contain),
            )
            .unwrap();
            assert_eq!(out.format, expected, "{input:?}");
        }
    }

    #[test]
    fn cover_crops_the_centre() {
        // Left third red, middle third green, right third blue: cover to a square keeps green.
        let img = RgbImage::from_fn(300, 100, |x, _| match x / 100 {
            0 => Rgb([255, 0, 0]),
            1 => Rgb([0, 255, 0]),
            _ => Rgb([0, 0, 255]),
        });
        let bytes = encode_as(&DynamicImage::ImageRgb8(img), ImageFormat::Png);
        let out = transform(&bytes, &spec(Some(10), Some(10), Fit::Cover)).unwrap();
        let back = decoded(&out.bytes).to_rgb8();
        assert_eq!(back.dimensions(), (10, 10));
        for p in back.pixels() {
            assert!(p[1] > 200 && p[0] < 50 && p[2] < 50, "{p:?}");
        }
    }

    #[test]
    fn transparency_survives_png_and_is_flattened_onto_white_in_jpeg() {
        let img = RgbaImage::from_pixel(40, 40, Rgba([0, 0, 0, 0]));
        let bytes = encode_as(&DynamicImage::ImageRgba8(img), ImageFormat::Png);
        let png = transform(&bytes, &spec(Some(20), None, Fit::Contain)).unwrap();
        assert_eq!(decoded(&png.bytes).to_rgba8().get_pixel(5, 5)[3], 0);
        let jpeg = transform(
            &bytes,
            &Spec {
                format: Some(OutputFormat::Jpeg),
                ..spec(Some(20), None, Fit::Contain)
            },
        )
        .unwrap();
        let p = *decoded(&jpeg.bytes).to_rgb8().get_pixel(5, 5);
        assert!(p.0.iter().all(|c| *c > 245), "{p:?}");
    }

    #[test]
    fn sixteen_bit_and_grey_images_are_resized() {
        let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(30, 30, image::Luma([77])));
        let deep = DynamicImage::ImageRgb16(ImageBuffer::from_pixel(
            30,
            30,
            Rgb([1000u16, 30000, 65535]),
        ));
        for img in [grey, deep] {
            let bytes = encode_as(&img, ImageFormat::Png);
            let out = transform(&bytes, &spec(Some(15), None, Fit::Contain)).unwrap();
            assert_eq!(decoded(&out.bytes).dimensions(), (15, 15));
        }
    }

    #[test]
    fn the_first_frame_of_an_animated_gif_is_used() {
        use image::codecs::gif::GifEncoder;
        use image::{Delay, Frame};
        let mut bytes = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut bytes);
            for colour in [[255, 0, 0, 255], [0, 0, 255, 255]] {
                let frame = Frame::from_parts(
                    RgbaImage::from_pixel(20, 20, Rgba(colour)),
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                );
                enc.encode_frame(frame).unwrap();
            }
        }
        let out = transform(&bytes, &spec(Some(10), None, Fit::Contain)).unwrap();
        let p = *decoded(&out.bytes).to_rgb8().get_pixel(5, 5);
        assert!(p[0] > 200 && p[2] < 50, "first frame is red: {p:?}");
    }

    /// A JPEG with an APP1 Exif segment whose Orientation tag says `orientation`.
    fn jpeg_with_orientation(image: &DynamicImage, orientation: u16) -> Vec<u8> {
        let jpeg = encode_as(image, ImageFormat::Jpeg);
        // TIFF header (little endian), one IFD with one entry: tag 0x0112, SHORT, count 1.
        let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, next IFD = 0
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let len = (payload.len() + 2) as u16;
        let mut out = jpeg[..2].to_vec(); // SOI
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn exif_orientation_is_applied_and_the_output_has_no_exif() {
        // Stored 80 × 40, top half red, bottom half blue; Orientation 6 = rotate 90° clockwise,
        // so it displays 40 × 80 with red on the right.
        let stored = RgbImage::from_fn(80, 40, |_, y| {
            if y < 20 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let bytes = jpeg_with_orientation(&DynamicImage::ImageRgb8(stored), 6);
        let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(decoder.orientation().unwrap(), Orientation::Rotate90);

        let out = transform(
            &bytes,
            &Spec {
                format: Some(OutputFormat::Png),
                ..spec(Some(20), None, Fit::Contain)
            },
        )
        .unwrap();
        assert_eq!((out.width, out.height), (20, 40));
        let back = decoded(&out.bytes).to_rgb8();
        assert_eq!(back.dimensions(), (20, 40));
        let (left, right) = (back.get_pixel(2, 20), back.get_pixel(17, 20));
        assert!(left[2] > 200 && right[0] > 200, "{left:?} {right:?}");

        let jpeg = transform(&bytes, &spec(Some(20), None, Fit::Contain)).unwrap();
        let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(&jpeg.bytes)).unwrap();
        assert_eq!(decoder.exif_metadata().unwrap(), None, "metadata stripped");
        assert_eq!(decoded(&jpeg.bytes).dimensions(), (20, 40));
    }

    #[test]
    fn decompression_bombs_are_rejected_from_the_header() {
        // A valid PNG header claiming 20000 × 20000 (400 MP) with almost no data behind it.
        let ihdr: Vec<u8> = [20_000u32.to_be_bytes(), 20_000u32.to_be_bytes()]
            .concat()
            .into_iter()
            .chain([8, 2, 0, 0, 0])
            .collect();
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(png_chunk(b"IHDR", &ihdr));
        png.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]));
        png.extend(png_chunk(b"IEND", &[]));
        let err = transform(&png, &spec(Some(10), None, Fit::Contain)).unwrap_err();
        let ApiError::InvalidImage(message) = err else {
            panic!("{err:?}")
        };
        assert!(message.contains("20000×20000"), "{message}");

        // A real, highly compressible 7000 × 7000 (49 MP) PNG: small bytes, too many pixels.
        let big = GrayImage::new(7000, 7000);
        let bytes = encode_as(&DynamicImage::ImageLuma8(big), ImageFormat::Png);
        assert!(bytes.len() < 1_000_000, "{}", bytes.len());
        assert!(matches!(
            transform(&bytes, &spec(Some(10), None, Fit::Contain)),
            Err(ApiError::InvalidImage(_))
        ));
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn corrupt_and_truncated_images_are_invalid_image() {
        let jpeg = encode_as(
            &DynamicImage::ImageRgb8(gradient(64, 64)),
            ImageFormat::Jpeg,
        );
        for bad in [
            &jpeg[..jpeg.len() / 3],
            &jpeg[..20],
            b"\xFF\xD8\xFF\xE0 not really",
            b"GIF89a",
            b"plain text",
            b"",
        ] {
            assert!(
                matches!(
                    transform(bad, &spec(Some(8), None, Fit::Contain)),
                    Err(ApiError::InvalidImage(_))
                ),
                "{:?}",
                &bad[..bad.len().min(12)]
            );
        }
    }

    #[test]
    fn an_output_that_cannot_be_returned_is_output_too_large() {
        // Noise does not compress: 1600 × 1200 RGB is 5.76 MB raw and a little more as PNG.
        let mut state = 0x2545_F491u32;
        let noise = RgbImage::from_fn(1600, 1200, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
        });
        let bytes = encode_as(&DynamicImage::ImageRgb8(noise), ImageFormat::Bmp);
        let s = Spec {
            format: Some(OutputFormat::Png),
            ..spec(Some(1600), Some(1200), Fit::Exact)
        };
        match transform(&bytes, &s) {
            Err(ApiError::OutputTooLarge(m)) => assert!(m.contains("4500000"), "{m}"),
            other => panic!("{:?}", other.map(|e| e.bytes.len())),
        }
    }

    #[test]
    fn preprocessing_shrinks_large_images_and_keeps_small_ones_small() {
        let bytes = encode_as(
            &DynamicImage::ImageRgb8(gradient(1200, 900)),
            ImageFormat::Png,
        );
        let out = transform(&bytes, &Spec::shrink_to_jpeg(512)).unwrap();
        assert_eq!(
            (out.width, out.height, out.format),
            (512, 384, OutputFormat::Jpeg)
        );
        let small = encode_as(
            &DynamicImage::ImageRgb8(gradient(100, 50)),
            ImageFormat::Png,
        );
        let out = transform(&small, &Spec::shrink_to_jpeg(512)).unwrap();
        assert_eq!((out.width, out.height), (100, 50), "never enlarged");
    }

    fn samples() -> Vec<Vec<u8>> {
        let img = DynamicImage::ImageRgb8(gradient(24, 16));
        [
            ImageFormat::Jpeg,
            ImageFormat::Png,
            ImageFormat::WebP,
            ImageFormat::Gif,
            ImageFormat::Bmp,
        ]
        .into_iter()
        .map(|f| encode_as(&img, f))
        .chain([jpeg_with_orientation(&img, 8)])
        .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = transform_unguarded(&data, &spec(Some(8), Some(8), Fit::Cover));
        }

        #[test]
        fn corrupted_real_images_never_panic(
            which in 0usize..6,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = samples().swap_remove(which);
            for (at, value) in edits {
                let i = at.index(bytes.len());
                // Keep the magic bytes so the decoders, not the sniffer, see the damage.
                if i >= 12 { bytes[i] = value; }
            }
            let keep = 12 + cut.index(bytes.len() - 11);
            bytes.truncate(keep);
            let _ = transform_unguarded(&bytes, &spec(Some(7), None, Fit::Contain));
        }

        #[test]
        fn requested_sizes_are_honoured(w in 1u32..300, h in 1u32..300, fit in 0usize..3) {
            let fit = [Fit::Exact, Fit::Contain, Fit::Cover][fit];
            let bytes = encode_as(&DynamicImage::ImageRgb8(gradient(37, 23)), ImageFormat::Png);
            let out = transform_unguarded(&bytes, &spec(Some(w), Some(h), fit)).unwrap();
            let back = decoded(&out.bytes);
            prop_assert_eq!(back.dimensions(), (out.width, out.height));
            prop_assert!(out.width <= w && out.height <= h);
            if fit != Fit::Contain {
                prop_assert_eq!((out.width, out.height), (w, h));
            } else {
                prop_assert!(out.width == w || out.height == h);
            }
        }
    }
}
