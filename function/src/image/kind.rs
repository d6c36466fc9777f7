//! Image formats: detection from magic bytes (so garbage never reaches a paid model), and each
//! format's name and MIME type, in one place.

use crate::error::ApiError;

/// An image format recognised by its leading bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (the 8-byte signature).
    Png,
    /// WebP (`RIFF....WEBP`).
    Webp,
    /// GIF (`GIF87a` / `GIF89a`).
    Gif,
    /// BMP (`BM`).
    Bmp,
}

impl ImageKind {
    /// Detects the format from the first bytes; `None` when it is none of the accepted formats.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        match bytes {
            [0xFF, 0xD8, 0xFF, ..] => Some(Self::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Self::Png),
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => Some(Self::Webp),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Self::Gif),
            // "BM" alone is too weak (it starts many text files); also check the header's
            // reserved zero bytes and that the pixel-data offset lies past the headers.
            [b'B', b'M', _, _, _, _, 0, 0, 0, 0, o0, o1, o2, o3, ..]
                if u32::from_le_bytes([*o0, *o1, *o2, *o3]) >= 26 =>
            {
                Some(Self::Bmp)
            }
            _ => None,
        }
    }

    /// The formats a request may carry, as said in messages.
    pub const ACCEPTED: &'static str = "a JPEG, PNG, WebP, GIF or BMP image";

    /// Every format, for lookups by name or MIME type.
    pub const ALL: [Self; 5] = [Self::Jpeg, Self::Png, Self::Webp, Self::Gif, Self::Bmp];

    /// The error for bytes that are none of the accepted formats.
    pub fn unsupported() -> ApiError {
        ApiError::InvalidImage(format!("the data is not {}", Self::ACCEPTED))
    }

    /// The format of a `Content-Type` media type (lowercase, no parameters), if it names one.
    pub fn from_mime(media_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.mime() == media_type)
    }

    /// The format's name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
            Self::Gif => "GIF",
            Self::Bmp => "BMP",
        }
    }

    /// The `image` crate's format, for its decoders.
    pub fn format(self) -> image::ImageFormat {
        match self {
            Self::Jpeg => image::ImageFormat::Jpeg,
            Self::Png => image::ImageFormat::Png,
            Self::Webp => image::ImageFormat::WebP,
            Self::Gif => image::ImageFormat::Gif,
            Self::Bmp => image::ImageFormat::Bmp,
        }
    }

    /// Whether the format is sent to the model as it is. Image models take JPEG and PNG
    /// (model-server and many others WebP too); no model we front reads GIF or BMP, so those
    /// are converted before `InvokeEndpoint`.
    pub fn is_model_input(self) -> bool {
        matches!(self, Self::Jpeg | Self::Png | Self::Webp)
    }

    /// The format's MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_format() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(ImageKind::Png)
        );
        assert_eq!(
            ImageKind::sniff(b"RIFF\x24\0\0\0WEBPVP8 "),
            Some(ImageKind::Webp)
        );
        assert_eq!(
            ImageKind::sniff(b"GIF89a\x01\0\x01\0"),
            Some(ImageKind::Gif)
        );
        assert_eq!(
            ImageKind::sniff(b"GIF87a\x01\0\x01\0"),
            Some(ImageKind::Gif)
        );
        assert_eq!(
            ImageKind::sniff(b"BM\x3a\0\0\0\0\0\0\0\x36\0\0\0"),
            Some(ImageKind::Bmp)
        );
    }

    #[test]
    fn mime_types_name_their_format_both_ways() {
        for kind in ImageKind::ALL {
            assert_eq!(ImageKind::from_mime(kind.mime()), Some(kind));
        }
        assert_eq!(ImageKind::from_mime("image/tiff"), None);
    }

    #[test]
    fn rejects_text_truncated_and_empty_input() {
        for bad in [
            &b""[..],
            b"\xFF\xD8",
            b"hello world",
            b"BMW is a car brand",
            b"RIFF\0\0\0\0WAVEfmt ",
            b"{\"image\":1}",
        ] {
            assert_eq!(ImageKind::sniff(bad), None, "{bad:?}");
        }
    }
}
