//! Image bytes → the model's input tensor.
//!
//! The format is sniffed from the bytes (JPEG, PNG or WebP; the Content-Type header is not
//! trusted), the pixel count is checked from the header *before* decoding (decompression
//! bombs), EXIF orientation is applied, then the shorter side is scaled to 256 and the centre
//! 224×224 is kept (done as one bilinear crop-and-resize with SIMD `fast_image_resize`), and
//! each channel becomes `(x - 127) / 128`,
//! the normalisation EfficientNet-Lite was trained with.

use std::io::Cursor;

use candle_core::{Device, Tensor};
use fast_image_resize::images::{Image as FirImage, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

use crate::model::INPUT_SIZE;

/// The side the shorter image side is scaled to before the centre crop.
const RESIZE_SIZE: usize = 256;

/// Bounds on what the decoder may be asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Largest width × height accepted, checked before decoding.
    pub max_pixels: u64,
    /// Largest allocation the decoder may make, in bytes.
    pub max_alloc: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        // 40 MP covers any phone photo that fits in the 6 MiB body limit.
        Self {
            max_pixels: 40_000_000,
            max_alloc: 256 * 1024 * 1024,
        }
    }
}

/// Why an image was rejected. All of these are the client's fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    /// The bytes are not JPEG, PNG or WebP.
    #[error("unsupported image format (expected JPEG, PNG or WebP)")]
    UnsupportedFormat,
    /// The image has more pixels than allowed.
    #[error("image is {width}x{height} pixels, more than the limit of {limit} pixels")]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The configured pixel limit.
        limit: u64,
    },
    /// The image could not be decoded.
    #[error("cannot decode image: {0}")]
    Corrupt(String),
}

/// Formats the server accepts, sniffed from the leading bytes.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        _ => Err(ImageError::UnsupportedFormat),
    }
}

/// Decodes an image into RGB, applying EXIF orientation, within `limits`.
///
/// # Errors
/// [`ImageError`] when the bytes are not an accepted format, too large, or corrupt.
pub fn decode(bytes: &[u8], limits: ImageLimits) -> Result<RgbImage, ImageError> {
    let format = sniff(bytes)?;
    let reader = |bytes| {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut l = image::Limits::default();
        l.max_alloc = Some(limits.max_alloc);
        r.limits(l);
        r
    };
    let corrupt = |e: image::ImageError| ImageError::Corrupt(e.to_string());
    let (width, height) = reader(bytes).into_dimensions().map_err(corrupt)?;
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt("image has no pixels".to_owned()));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    let mut decoder = reader(bytes).into_decoder().map_err(corrupt)?;
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Scales the shorter side to 256, keeps the centre 224×224 (as one bilinear resize of the
/// matching centre square of the original), and normalises to `(x - 127) / 128` in
/// (3, 224, 224) channel-major order.
///
/// # Errors
/// [`ImageError::Corrupt`] if the resizer rejects the image (it accepts every non-empty one).
pub fn to_input(image: &RgbImage) -> Result<Vec<f32>, ImageError> {
    let (w, h) = image.dimensions();
    let resize_error =
        |e: &dyn std::fmt::Display| ImageError::Corrupt(format!("cannot resize: {e}"));
    let src = ImageRef::new(w, h, image.as_raw(), PixelType::U8x3).map_err(|e| resize_error(&e))?;
    // The 224 crop of a 256-short-side image covers 224/256 of the original short side.
    let side = f64::from(w.min(h)) * INPUT_SIZE as f64 / RESIZE_SIZE as f64;
    let options = ResizeOptions::new()
        .resize_alg(ResizeAlg::Convolution(FilterType::Bilinear))
        .crop(
            (f64::from(w) - side) / 2.0,
            (f64::from(h) - side) / 2.0,
            side,
            side,
        );
    let size = INPUT_SIZE as u32;
    let mut resized = FirImage::new(size, size, PixelType::U8x3);
    Resizer::new()
        .resize(&src, &mut resized, &options)
        .map_err(|e| resize_error(&e))?;
    let plane = INPUT_SIZE * INPUT_SIZE;
    let mut out = vec![0f32; 3 * plane];
    for (i, pixel) in resized.buffer().chunks_exact(3).enumerate() {
        for (c, &v) in pixel.iter().enumerate() {
            out[c * plane + i] = (f32::from(v) - 127.0) / 128.0;
        }
    }
    Ok(out)
}

/// Decodes and preprocesses image bytes into a (3, 224, 224) tensor.
///
/// # Errors
/// [`ImageError`] as [`decode`].
pub fn image_to_tensor(bytes: &[u8], limits: ImageLimits) -> Result<Tensor, ImageError> {
    let image = decode(bytes, limits)?;
    let data = to_input(&image)?;
    Tensor::from_vec(data, (3, INPUT_SIZE, INPUT_SIZE), &Device::Cpu)
        .map_err(|e| ImageError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        })
    }

    #[test]
    fn decodes_png_jpeg_and_webp_by_sniffing() {
        let img = gradient(40, 30);
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let decoded = decode(&encode(&img, format), ImageLimits::default()).unwrap();
            assert_eq!(decoded.dimensions(), (40, 30), "{format:?}");
        }
    }

    #[test]
    fn rejects_other_formats_and_garbage() {
        // A BMP header: a real image format, but not one the model server takes.
        let bmp = [b"BM".as_slice(), &[0u8; 60]].concat();
        assert_eq!(
            decode(&bmp, ImageLimits::default()),
            Err(ImageError::UnsupportedFormat)
        );
        assert_eq!(
            decode(b"hello", ImageLimits::default()),
            Err(ImageError::UnsupportedFormat)
        );
        assert_eq!(
            decode(b"", ImageLimits::default()),
            Err(ImageError::UnsupportedFormat)
        );
    }

    #[test]
    fn rejects_truncated_image_as_corrupt() {
        let png = encode(&gradient(64, 64), ImageFormat::Png);
        let err = decode(&png[..png.len() / 2], ImageLimits::default()).unwrap_err();
        assert!(matches!(err, ImageError::Corrupt(_)), "{err:?}");
    }

    #[test]
    fn rejects_too_many_pixels_before_decoding() {
        let png = encode(&gradient(300, 200), ImageFormat::Png);
        let limits = ImageLimits {
            max_pixels: 50_000,
            ..ImageLimits::default()
        };
        assert_eq!(
            decode(&png, limits),
            Err(ImageError::TooLarge {
                width: 300,
                height: 200,
                limit: 50_000
            })
        );
    }

    #[test]
    fn input_is_normalised_channel_major() {
        let white = RgbImage::from_pixel(500, 300, image::Rgb([255, 0, 127]));
        let x = to_input(&white).unwrap();
        let plane = INPUT_SIZE * INPUT_SIZE;
        assert_eq!(x.len(), 3 * plane);
        assert!(x[..plane].iter().all(|&v| (v - 1.0).abs() < 1e-6));
        assert!(
            x[plane..2 * plane]
                .iter()
                .all(|&v| (v + 127.0 / 128.0).abs() < 1e-6)
        );
        assert!(x[2 * plane..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn tiny_images_are_upscaled() {
        let x = to_input(&gradient(1, 1)).unwrap();
        assert_eq!(x.len(), 3 * INPUT_SIZE * INPUT_SIZE);
    }
}
