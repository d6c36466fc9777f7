//! How much memory one image transformation needs, worked out from the image's header and the
//! requested output before any pixel is decoded, and the budget it must fit in.
//!
//! The pixel limits bound the decoded input, not the rest of the pipeline: `fast_image_resize`
//! runs an 8-bit resize's vertical pass first, into a scratch image of (source width × output
//! height), so a wide input enlarged to a tall output needs gigabytes that no pixel limit sees.
//! [`Work::peak_bytes`] adds up what each step holds at once and takes the largest step; the
//! pipeline refuses work over [`MemoryBudget`] with `400 invalid_size` instead of letting Lambda
//! kill the sandbox.

use crate::error::ApiError;
use crate::image::kind::ImageKind;
use crate::image::spec::OutputFormat;

const MIB: u64 = 1 << 20;

/// The memory image work may use in one request: the function's memory
/// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`) less what the rest of the process needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
    function_mb: u32,
}

impl MemoryBudget {
    /// Memory kept for everything but image work: the process itself (runtime, AWS SDK, TLS
    /// roots: ~30 MB resident), the request as the runtime holds it while the handler runs (a
    /// 6 MB event body, and its decoded copy), and allocator slack. Checked against real runs
    /// in a memory cgroup of the function's size (function/tests/python/test_memory.py).
    pub const HEADROOM_BYTES: u64 = 96 * MIB;

    /// The budget of a function with `memory_mb` MB of memory.
    pub const fn of_function(memory_mb: u32) -> Self {
        Self {
            bytes: (memory_mb as u64 * MIB).saturating_sub(Self::HEADROOM_BYTES),
            function_mb: memory_mb,
        }
    }

    /// The budget in bytes.
    pub fn bytes(self) -> u64 {
        self.bytes
    }

    /// Refuses `work` whose peak exceeds the budget.
    ///
    /// # Errors
    /// [`ApiError::InvalidSize`] naming what the work needs and the limit.
    pub fn check(self, work: &Work) -> Result<(), ApiError> {
        let needed = work.peak_bytes();
        if needed <= self.bytes {
            return Ok(());
        }
        Err(ApiError::InvalidSize(format!(
            "making a {}×{} {} from this {}×{} {} image needs about {} MB of memory; \
             this function can spend {} MB on an image ({} MB of memory): \
             ask for fewer output pixels or send a smaller image",
            work.out_width,
            work.out_height,
            work.format.name(),
            work.width,
            work.height,
            work.kind.name(),
            needed.div_ceil(MIB),
            self.bytes / MIB,
            self.function_mb
        )))
    }
}

/// One transformation as far as memory goes, known from the header and the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// The input's format.
    pub kind: ImageKind,
    /// The encoded input (already in memory, held throughout).
    pub input_bytes: u64,
    /// Stored width of the input.
    pub width: u32,
    /// Stored height of the input.
    pub height: u32,
    /// The decoder's output buffer (`ImageDecoder::total_bytes`).
    pub decoded_bytes: u64,
    /// Channels of the 8-bit image the resizer works on (1 to 4).
    pub channels: u8,
    /// Whether the decoded image is converted to 8 bits first (16-bit and float images).
    pub converts: bool,
    /// Stored width of the output (before orientation).
    pub out_width: u32,
    /// Stored height of the output.
    pub out_height: u32,
    /// Whether the input is cropped to the output's aspect ratio (`fit: cover`).
    pub crop: bool,
    /// Whether an EXIF orientation is applied (rotations copy the output).
    pub reorients: bool,
    /// The output format.
    pub format: OutputFormat,
    /// The most bytes the encoder may write.
    pub max_output_bytes: u64,
}

/// Decoders' own tables and row buffers, beyond what is counted per pixel.
const DECODER_FIXED: u64 = 8 * MIB;
/// The resizer's coefficient tables: a few floats per source row and column.
const RESIZER_FIXED: u64 = 8 * MIB;
/// JPEG and PNG encoders work a few rows at a time.
const ENCODER_FIXED: u64 = 4 * MIB;

impl Work {
    /// The most memory the transformation holds at once, in bytes: the input, plus the largest
    /// of its steps (decode, 8-bit conversion, resize, orientation, encoding).
    pub fn peak_bytes(&self) -> u64 {
        let ch = u64::from(self.channels);
        let px = u64::from(self.width) * u64::from(self.height);
        let out_px = u64::from(self.out_width) * u64::from(self.out_height);
        let out = out_px * ch;
        let decoded = self.decoded_bytes;
        let eight_bit = if self.converts { px * ch } else { decoded };
        let alpha = ch == 2 || ch == 4;

        // Progressive JPEG keeps every coefficient (an i16 per sample) until the end; a GIF
        // frame smaller than its screen is decoded apart and copied in; lossy WebP goes through
        // YUV planes. PNG and BMP decode row by row into the output.
        let decoder_scratch = match self.kind {
            ImageKind::Jpeg => 2 * decoded,
            ImageKind::Gif => decoded,
            ImageKind::Webp => decoded / 2,
            ImageKind::Png | ImageKind::Bmp => 0,
        } + DECODER_FIXED;
        let decode = decoded + decoder_scratch;
        let convert = if self.converts {
            decoded + eight_bit
        } else {
            0
        };

        let resizes = (self.out_width, self.out_height) != (self.width, self.height);
        let resize = if resizes {
            // fast_image_resize premultiplies alpha into a copy of the source, and for 8-bit
            // images runs the vertical pass first into (source width × output height).
            let premultiplied = if alpha { eight_bit } else { 0 };
            let two_passes =
                self.crop || (self.out_width != self.width && self.out_height != self.height);
            let scratch = if two_passes {
                u64::from(self.width) * u64::from(self.out_height) * ch
            } else {
                0
            };
            eight_bit + premultiplied + scratch + out + RESIZER_FIXED
        } else {
            0
        };
        // The image the encoder gets: the resized output, or the decoded input as it is.
        let image = if resizes { out } else { eight_bit };
        let orient = if self.reorients { 2 * image } else { 0 };

        // JPEG flattens alpha onto white into an RGB copy; lossless WebP expands to RGBA and
        // builds its bitstream in memory; the encoded bytes stop at the output limit.
        let encoder = match self.format {
            OutputFormat::Jpeg if alpha => out_px * 3 + ENCODER_FIXED,
            OutputFormat::Jpeg | OutputFormat::Png => ENCODER_FIXED,
            OutputFormat::Webp => out_px * 4 * 3,
        };
        let encode = image + encoder + self.max_output_bytes;

        self.input_bytes + decode.max(convert).max(resize).max(orient).max(encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgba_png(width: u32, height: u32, out_width: u32, out_height: u32) -> Work {
        Work {
            kind: ImageKind::Png,
            input_bytes: 6 * MIB,
            width,
            height,
            decoded_bytes: u64::from(width) * u64::from(height) * 4,
            channels: 4,
            converts: false,
            out_width,
            out_height,
            crop: false,
            reorients: false,
            format: OutputFormat::Png,
            max_output_bytes: 4_500_000,
        }
    }

    #[test]
    fn a_wide_image_made_tall_needs_the_resizers_scratch_image() {
        // 65535 × 610 RGBA (40 MP) to 4882 × 8192: the scratch image alone is 65535 × 8192 × 4.
        let work = rgba_png(65_535, 610, 4_882, 8_192);
        assert!(work.peak_bytes() > 2_000_000_000, "{}", work.peak_bytes());
        let budget = MemoryBudget::of_function(2_048);
        let err = budget.check(&work).unwrap_err();
        assert_eq!(err.code(), "invalid_size");
        let message = err.to_string();
        assert!(message.contains("can spend 1952 MB"), "{message}");
        assert!(message.contains("2048 MB of memory"), "{message}");
        assert!(
            message.contains("4882×8192 png from this 65535×610 PNG"),
            "{message}"
        );
    }

    #[test]
    fn a_large_rgba_image_enlarged_does_not_fit_512_mb_but_fits_1024() {
        // 8000 × 5000 RGBA to 8192 × 4882: decoded 160 MB, premultiplied 160 MB, scratch
        // 8000 × 4882 × 4 = 156 MB, output 160 MB.
        let work = rgba_png(8_000, 5_000, 8_192, 4_882);
        let peak = work.peak_bytes();
        assert!(peak > 600 * MIB && peak < 700 * MIB, "{}", peak / MIB);
        assert!(MemoryBudget::of_function(512).check(&work).is_err());
        assert!(MemoryBudget::of_function(1024).check(&work).is_ok());
    }

    #[test]
    fn the_largest_input_shrunk_for_a_model_fits_512_mb() {
        // What preprocessing does with a 40 MP photo: RGB JPEG to 512 × 384.
        let work = Work {
            kind: ImageKind::Jpeg,
            decoded_bytes: 8_000 * 5_000 * 3,
            channels: 3,
            format: OutputFormat::Jpeg,
            ..rgba_png(8_000, 5_000, 512, 320)
        };
        assert!(
            MemoryBudget::of_function(512).check(&work).is_ok(),
            "{}",
            work.peak_bytes() / MIB
        );
        // And a 40 MP RGBA PNG made small, as /resize does.
        assert!(
            MemoryBudget::of_function(512)
                .check(&rgba_png(8_000, 5_000, 800, 500))
                .is_ok()
        );
    }

    #[test]
    fn each_step_is_counted_where_it_happens() {
        let base = rgba_png(1_000, 1_000, 1_000, 1_000);
        // Same size, PNG to PNG: no resize step; the encode step holds the image.
        let same = base.peak_bytes();
        let resized = Work {
            out_width: 500,
            out_height: 500,
            ..base
        }
        .peak_bytes();
        assert!(
            resized > same,
            "resizing holds source, premultiplied copy, scratch and output"
        );
        let rotated = Work {
            reorients: true,
            ..base
        }
        .peak_bytes();
        assert!(rotated >= same);
        let webp = Work {
            format: OutputFormat::Webp,
            ..base
        }
        .peak_bytes();
        assert!(webp > same, "lossless WebP builds its bitstream in memory");
    }

    #[test]
    fn small_functions_have_no_budget_left_rather_than_a_negative_one() {
        assert_eq!(MemoryBudget::of_function(64).bytes(), 0);
        assert_eq!(MemoryBudget::of_function(512).bytes(), 416 * MIB);
    }
}
