//! Image decoding, resizing and encoding for `POST /resize`, prediction preprocessing and the
//! conversion of formats models cannot read.
//!
//! One pipeline, bounded at every step so a hostile upload cannot exhaust the function's memory:
//!
//! 1. sniff the format ([`ImageKind`]) and read only the header: over [`MAX_INPUT_PIXELS`], or
//!    more than [`MAX_DECODED_BYTES`] once decoded, is rejected before any pixel is decoded
//!    (decompression bombs);
//! 2. work out the output size ([`spec::output_size`]) and the memory the whole transformation
//!    needs ([`Work::peak_bytes`]), and refuse it over the function's [`MemoryBudget`];
//! 3. decode the first frame (animated GIF and WebP included) with `image::Limits` as a second
//!    fence, and read the EXIF orientation;
//! 4. resize with `fast_image_resize` (SIMD, Lanczos3) in the stored orientation, then rotate or
//!    flip the small result, so orientation never copies a full-size image;
//! 5. encode as JPEG, PNG or WebP (lossless) from bare pixels (EXIF, XMP and ICC metadata are
//!    not carried over), into a writer that stops at [`MAX_OUTPUT_BYTES`], which is all Lambda
//!    can return.
//!
//! Errors are [`ApiError`]s: `invalid_image` for anything that is not a decodable image within
//! the limits, `invalid_size` for impossible dimensions or work over the budget,
//! `output_too_large` for step 5.

use std::borrow::Cow;
use std::io::{Cursor, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use fast_image_resize::images::{Image as FrImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{
    ColorType, DynamicImage, ExtendedColorType, GrayAlphaImage, GrayImage, ImageBuffer,
    ImageDecoder, ImageEncoder, ImageReader, Limits, RgbImage, RgbaImage,
};

use crate::error::ApiError;
use crate::image::budget::{MemoryBudget, Work};
use crate::image::kind::ImageKind;
use crate::image::spec::{self, Fit, OutputFormat, Spec};

/// Largest input accepted, in pixels (40 MP): a 24 MP camera or 12 MP phone photo fits. What a
/// transformation may do with it is bounded by the [`MemoryBudget`] as well.
pub const MAX_INPUT_PIXELS: u64 = 40_000_000;
/// Largest decoded buffer, in bytes: 40 MP at 4 bytes a pixel. 16-bit images therefore have a
/// lower pixel limit (20 MP for RGBA16), since they decode to twice the bytes.
pub const MAX_DECODED_BYTES: u64 = 160_000_000;
/// Largest encoded output: Lambda returns at most 6 MB (6,291,456 bytes) and the image travels
/// base64-encoded (4/3 larger) inside a JSON document, so about 4.5 MB of raw bytes fit.
pub const MAX_OUTPUT_BYTES: usize = 4_500_000;

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

/// Decodes, resizes and re-encodes an image per `spec`, within `budget`.
///
/// # Errors
/// [`ApiError::InvalidImage`] when the bytes are not a decodable JPEG, PNG, WebP, GIF or BMP
/// within the pixel limits; [`ApiError::InvalidSize`] when the requested or resulting size is
/// out of range, or the work would not fit in `budget`; [`ApiError::OutputTooLarge`] when the
/// encoded result exceeds [`MAX_OUTPUT_BYTES`].
pub fn transform(bytes: &[u8], spec: &Spec, budget: MemoryBudget) -> Result<Encoded, ApiError> {
    // The decoders are fuzzed upstream and the proptests below find no panic, but this runs on
    // untrusted bytes: a decoder bug must be this request's 400, not a 500.
    catch_unwind(AssertUnwindSafe(|| {
        transform_unguarded(bytes, spec, budget)
    }))
    .unwrap_or_else(|_| {
        tracing::error!(
            input_bytes = bytes.len(),
            "image pipeline panicked; answered invalid_image"
        );
        Err(ApiError::InvalidImage(
            "the image could not be decoded".to_owned(),
        ))
    })
}

fn transform_unguarded(
    bytes: &[u8],
    spec: &Spec,
    budget: MemoryBudget,
) -> Result<Encoded, ApiError> {
    spec::validate_box(spec)?;
    let kind = ImageKind::sniff(bytes).ok_or_else(ImageKind::unsupported)?;
    let mut decoder = open(bytes, kind)?;
    // A malformed EXIF block is no reason to refuse the picture: show it as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let (width, height) = decoder.dimensions();
    let swapped = swaps_sides(orientation);
    let (shown_w, shown_h) = if swapped {
        (height, width)
    } else {
        (width, height)
    };
    let (out_w, out_h) = spec::output_size(shown_w, shown_h, spec)?;
    // Resize in the stored orientation, so the target's sides are swapped along with it.
    let (stored_w, stored_h) = if swapped {
        (out_h, out_w)
    } else {
        (out_w, out_h)
    };
    let crop = spec.fit == Fit::Cover && spec.width.is_some() && spec.height.is_some();
    let format = spec.format.unwrap_or(OutputFormat::for_input(kind));
    let (channels, converts) = eight_bit_channels(decoder.color_type());
    budget.check(&Work {
        kind,
        input_bytes: bytes.len() as u64,
        width,
        height,
        decoded_bytes: decoder.total_bytes(),
        channels,
        converts,
        out_width: stored_w,
        out_height: stored_h,
        crop,
        reorients: orientation != Orientation::NoTransforms,
        format,
        max_output_bytes: MAX_OUTPUT_BYTES as u64,
    })?;

    let image = DynamicImage::from_decoder(decoder).map_err(|e| undecodable(kind, &e))?;
    let mut resized = resize(image, stored_w, stored_h, crop)?;
    resized.apply_orientation(orientation);
    let encoded = encode(&resized, format, spec.quality).map_err(|e| match e {
        EncodeError::TooLarge => ApiError::OutputTooLarge(format!(
            "the {out_w}×{out_h} {} result is over {MAX_OUTPUT_BYTES} bytes, the most that can be returned: ask for fewer pixels, JPEG or a lower quality",
            format.name(),
        )),
        EncodeError::Failed(reason) => {
            tracing::error!(reason, format = format.name(), "image encoding failed");
            ApiError::Internal
        }
    })?;
    Ok(Encoded {
        bytes: encoded,
        width: out_w,
        height: out_h,
        format,
    })
}

/// Reads the header and checks the pixel limits; nothing is decoded yet.
fn open(bytes: &[u8], kind: ImageKind) -> Result<impl ImageDecoder + '_, ApiError> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(u32::from(u16::MAX));
    limits.max_image_height = Some(u32::from(u16::MAX));
    // Decoders' own scratch space counts too; the decoded buffer is checked exactly below.
    limits.max_alloc = Some(MAX_DECODED_BYTES + 64 * 1024 * 1024);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), kind.format());
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| undecodable(kind, &e))?;

    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Err(ApiError::InvalidImage(format!(
            "the {} image is {w}×{h} pixels",
            kind.name()
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
    Ok(decoder)
}

fn undecodable(kind: ImageKind, err: &image::ImageError) -> ApiError {
    ApiError::InvalidImage(match err {
        image::ImageError::Limits(_) => format!(
            "the {} image exceeds the decoding limits ({} MP)",
            kind.name(),
            MAX_INPUT_PIXELS / 1_000_000
        ),
        // Decoder messages describe the data ("unexpected EOF", "invalid Huffman code"), never
        // echo it, so they help the client and are safe to return.
        e => format!("the {} image could not be decoded: {e}", kind.name()),
    })
}

/// The channels of the 8-bit image the pipeline works on, and whether the decoded one must be
/// converted to it first (as [`resize`] and [`to_8bit`] do).
fn eight_bit_channels(color: ColorType) -> (u8, bool) {
    match color {
        ColorType::L8 => (1, false),
        ColorType::La8 => (2, false),
        ColorType::Rgb8 => (3, false),
        ColorType::Rgba8 => (4, false),
        other if other.has_alpha() => (4, true),
        _ => (3, true),
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

/// Why encoding stopped.
#[derive(Debug)]
enum EncodeError {
    /// The result passed [`MAX_OUTPUT_BYTES`].
    TooLarge,
    /// The encoder failed; the reason is for the log.
    Failed(String),
}

/// A writer that refuses to grow past `limit` bytes, so an encoder stops as soon as its result
/// could no longer be returned instead of finishing it first.
struct Bounded {
    bytes: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("the output limit is reached"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Encodes without metadata: only pixels reach the encoder.
fn encode(image: &DynamicImage, format: OutputFormat, quality: u8) -> Result<Vec<u8>, EncodeError> {
    encode_bounded(image, format, quality, MAX_OUTPUT_BYTES)
}

fn encode_bounded(
    image: &DynamicImage,
    format: OutputFormat,
    quality: u8,
    limit: usize,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = Bounded {
        bytes: Vec::new(),
        limit,
        exceeded: false,
    };
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
    match result {
        Ok(()) => Ok(out.bytes),
        // Whatever error type the encoder wraps the writer's refusal in.
        Err(_) if out.exceeded => Err(EncodeError::TooLarge),
        Err(e) => Err(EncodeError::Failed(e.to_string())),
    }
}

/// 8-bit L, LA, RGB or RGBA, the types every encoder here takes (resized images already are).
fn to_8bit(image: &DynamicImage) -> Cow<'_, DynamicImage> {
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
/// Images without alpha are borrowed, not copied.
fn flatten_onto_white(image: &DynamicImage) -> Cow<'_, DynamicImage> {
    let blend = |c: u8, a: u8| -> u8 {
        let (c, a) = (u32::from(c), u32::from(a));
        ((c * a + 255 * (255 - a) + 127) / 255) as u8
    };
    let rgb_over_white = |rgba: &RgbaImage| {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(rgba.width(), rgba.height(), |x, y| {
            let [r, g, b, a] = rgba.get_pixel(x, y).0;
            image::Rgb([blend(r, a), blend(g, a), blend(b, a)])
        }))
    };
    match image {
        DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => Cow::Borrowed(image),
        DynamicImage::ImageLumaA8(b) => Cow::Owned(DynamicImage::ImageLuma8(ImageBuffer::from_fn(
            b.width(),
            b.height(),
            |x, y| {
                let p = b.get_pixel(x, y).0;
                image::Luma([blend(p[0], p[1])])
            },
        ))),
        DynamicImage::ImageRgba8(rgba) => Cow::Owned(rgb_over_white(rgba)),
        other if other.color().has_alpha() => Cow::Owned(rgb_over_white(&other.to_rgba8())),
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::spec::DEFAULT_JPEG_QUALITY;
    use image::{GenericImageView, ImageFormat, Rgb, Rgba};
    use proptest::prelude::*;

    /// The smallest function the stack deploys.
    const BUDGET: MemoryBudget = MemoryBudget::of_function(512);

    fn transform(bytes: &[u8], spec: &Spec) -> Result<Encoded, ApiError> {
        super::transform(bytes, spec, BUDGET)
    }

    fn transform_unguarded(bytes: &[u8], spec: &Spec) -> Result<Encoded, ApiError> {
        super::transform_unguarded(bytes, spec, BUDGET)
    }

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

    /// A PNG whose header claims `w` × `h` RGBA pixels, with no pixel data behind it: enough
    /// for every check that runs before decoding.
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let ihdr: Vec<u8> = [w.to_be_bytes(), h.to_be_bytes()]
            .concat()
            .into_iter()
            .chain([8, 6, 0, 0, 0])
            .collect();
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(png_chunk(b"IHDR", &ihdr));
        png.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]));
        png.extend(png_chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn work_over_the_memory_budget_is_refused_before_decoding() {
        // The outside review's two cases: a 40 MP RGBA PNG 65535 pixels wide made 8192 tall
        // (~2 GiB of resizer scratch), and 8000 × 5000 RGBA enlarged to 8192 × 4882 (~640 MB).
        for (w, h, out_w, out_h) in [(65_535, 610, 4_882, 8_192), (8_000, 5_000, 8_192, 4_882)] {
            let started = std::time::Instant::now();
            let err = transform(
                &png_header(w, h),
                &spec(Some(out_w), Some(out_h), Fit::Exact),
            )
            .unwrap_err();
            let ApiError::InvalidSize(message) = &err else {
                panic!("{w}×{h}: {err:?}")
            };
            assert!(
                message.contains("416 MB") && message.contains("512 MB"),
                "{message}"
            );
            // Refused from the header: nothing was decoded (there is nothing to decode).
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        // The same work fits a function with more memory, and then fails only for the lack of
        // pixel data in this fake file.
        let err = super::transform(
            &png_header(8_000, 5_000),
            &spec(Some(8_192), Some(4_882), Fit::Exact),
            MemoryBudget::of_function(1024),
        )
        .unwrap_err();
        assert_eq!(err.code(), "invalid_image", "{err}");
    }

    #[test]
    fn the_encoder_stops_at_the_output_limit() {
        let noise = RgbImage::from_fn(300, 300, |x, y| {
            let v = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) as u8;
            Rgb([v, v.wrapping_mul(7), v.wrapping_mul(13)])
        });
        let image = DynamicImage::ImageRgb8(noise);
        let full = encode_bounded(&image, OutputFormat::Png, 85, usize::MAX).unwrap();
        assert!(full.len() > 10_000);
        assert!(matches!(
            encode_bounded(&image, OutputFormat::Png, 85, 10_000),
            Err(EncodeError::TooLarge)
        ));
        assert!(matches!(
            encode_bounded(&image, OutputFormat::Jpeg, 100, 1_000),
            Err(EncodeError::TooLarge)
        ));
    }

    #[test]
    fn gif_and_bmp_convert_to_png_at_their_own_size() {
        let source = DynamicImage::ImageRgb8(gradient(33, 17));
        for input in [ImageFormat::Gif, ImageFormat::Bmp] {
            let out = transform(
                &encode_as(&source, input),
                &Spec::convert_to(OutputFormat::Png),
            )
            .unwrap();
            assert_eq!(
                (out.width, out.height, out.format),
                (33, 17, OutputFormat::Png)
            );
            assert_eq!(image::guess_format(&out.bytes).unwrap(), ImageFormat::Png);
        }
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
