//! Evidence photos as bytes: what an upload may be (JPEG, PNG or WebP by its bytes, never its
//! name; a size and a pixel bound checked before decoding allocates), how it is made safe to
//! serve (decoded under limits, turned upright by the camera's orientation, scaled to at most
//! [`PhotoLimits::served_edge`], re-encoded — which drops EXIF, GPS tags and every other
//! metadata block — plus a thumbnail), and the object store the results live in (a local
//! folder, or any S3-compatible store).

use bytes::Bytes;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// What a photo may be.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    /// Largest upload, bytes.
    pub max_bytes: usize,
    /// Most pixels (width × height) a photo may decode to.
    pub max_pixels: u64,
    /// Longest edge of the served photo (a larger one is scaled down).
    pub served_edge: u32,
    /// Longest edge of the thumbnail.
    pub thumb_edge: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_bytes: 10 << 20,
            // a 48-megapixel phone camera's full frame, with room
            max_pixels: 50_000_000,
            served_edge: 2560,
            thumb_edge: 320,
        }
    }
}

/// Why an upload is not a photo logbook keeps.
#[derive(Debug, Error, PartialEq)]
pub enum PhotoError {
    /// Empty upload.
    #[error("the file is empty")]
    Empty,
    /// Larger than the limit.
    #[error("the photo is {size} bytes; at most {max} bytes are taken (send a smaller photo)")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not JPEG, PNG or WebP by its bytes.
    #[error("the file is not a JPEG, PNG or WebP photo ({found}); take or save it as JPEG")]
    Unsupported {
        /// What it looks like.
        found: String,
    },
    /// Too many pixels.
    #[error("the photo is {width}×{height} pixels; at most {max} pixels are taken")]
    TooManyPixels {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// The limit.
        max: u64,
    },
    /// Its bytes could not be decoded.
    #[error("the photo cannot be read ({0}); it may be damaged: take it again")]
    Corrupt(String),
}

impl PhotoError {
    /// The error as the API answers it: a limit, or bad input on the `file` field.
    pub fn api(&self) -> crate::error::ApiError {
        use crate::error::ApiError;
        match self {
            PhotoError::TooLarge { .. } | PhotoError::TooManyPixels { .. } => {
                ApiError::LimitExceeded(self.to_string())
            }
            _ => ApiError::bad_input("file", self.to_string()),
        }
    }
}

/// A photo made safe to serve.
#[derive(Debug, Clone)]
pub struct Processed {
    /// The photo, metadata-free.
    pub photo: Vec<u8>,
    /// Its thumbnail (JPEG).
    pub thumb: Vec<u8>,
    /// The photo's media type.
    pub media_type: &'static str,
    /// Its file extension.
    pub extension: &'static str,
    /// Width after orientation and scaling.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// SHA-256 of the bytes as uploaded, hex.
    pub sha256: String,
}

/// The format of `bytes` by their signature: JPEG, PNG or WebP, else why not.
pub fn sniff(bytes: &[u8]) -> Result<ImageFormat, PhotoError> {
    match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(f),
        Ok(other) => Err(PhotoError::Unsupported {
            found: format!("{other:?}"),
        }),
        Err(_) => Err(PhotoError::Unsupported {
            found: "not an image".into(),
        }),
    }
}

/// Checks, decodes (under limits), turns upright, scales, and re-encodes an uploaded photo.
/// CPU-bound: run it off the async threads.
pub fn process(bytes: &[u8], limits: &PhotoLimits) -> Result<Processed, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes)?;
    let corrupt = |e: image::ImageError| PhotoError::Corrupt(e.to_string());
    let reader = || {
        let mut r = ImageReader::with_format(Cursor::new(bytes), format);
        let mut l = image::Limits::default();
        // the header is read before any pixel buffer: dimensions are checked first
        let edge = u32::try_from(limits.max_pixels).unwrap_or(u32::MAX);
        l.max_image_width = Some(edge);
        l.max_image_height = Some(edge);
        // 4 bytes a pixel (RGBA8) plus the decoder's own buffers
        l.max_alloc = Some(limits.max_pixels.saturating_mul(5));
        r.limits(l);
        r
    };
    let (width, height) = reader().into_dimensions().map_err(corrupt)?;
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    let mut decoder = reader().into_decoder().map_err(corrupt)?;
    // a phone writes the camera's turn in EXIF: applied here, since EXIF is not kept
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    img.apply_orientation(orientation);
    // scaled by area averaging in integers (`thumbnail`): a resampling filter would hold a
    // float copy of the whole photo, 4 bytes a channel (measured: 408 MB peak for 12 MP)
    if img.width().max(img.height()) > limits.served_edge {
        img = img.thumbnail(limits.served_edge, limits.served_edge);
    }
    let thumb = img.thumbnail(limits.thumb_edge, limits.thumb_edge);
    let (width, height) = (img.width(), img.height());
    let keeps_alpha = format == ImageFormat::Png && img.color().has_alpha();
    let (photo, media_type, extension) = if keeps_alpha {
        (encode_png(&img).map_err(corrupt)?, "image/png", "png")
    } else {
        (encode_jpeg(img).map_err(corrupt)?, "image/jpeg", "jpg")
    };
    Ok(Processed {
        photo,
        thumb: encode_jpeg(thumb).map_err(corrupt)?,
        media_type,
        extension,
        width,
        height,
        sha256: hex::encode(Sha256::digest(bytes)),
    })
}

/// A photo's width and height from its header, when it is a photo logbook takes.
fn dimensions(bytes: &[u8], limits: &PhotoLimits) -> Option<(u32, u32)> {
    if bytes.len() > limits.max_bytes {
        return None;
    }
    let format = sniff(bytes).ok()?;
    ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .ok()
}

fn encode_jpeg(img: DynamicImage) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    // no copy when it is RGB already
    let rgb = DynamicImage::ImageRgb8(img.into_rgb8());
    rgb.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, 85,
    ))?;
    Ok(out)
}

fn encode_png(img: &DynamicImage) -> image::ImageResult<Vec<u8>> {
    let mut out = Vec::new();
    img.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))?;
    Ok(out)
}

/// Why the object store could not be opened.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A bad `--evidence-url`.
    #[error("--evidence-url {url}: {message}")]
    Url {
        /// As given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The folder cannot be made or opened.
    #[error("--evidence-dir {dir}: {message}")]
    Dir {
        /// As given.
        dir: String,
        /// What is wrong.
        message: String,
    },
}

/// Where photos are kept, and how many are processed at once.
#[derive(Clone)]
pub struct EvidenceStore {
    store: Arc<dyn ObjectStore>,
    /// What a photo may be.
    pub limits: PhotoLimits,
    /// Photos decoded at once (two: the machine's cores).
    permits: Arc<tokio::sync::Semaphore>,
    /// Megapixels decoded at once: one photo at the limit and one of 12 MP, never two at
    /// the limit (a 48 MP JPEG peaks at about 340 MB while it is decoded).
    pixels: Arc<tokio::sync::Semaphore>,
    describe: String,
}

impl std::fmt::Debug for EvidenceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceStore")
            .field("store", &self.describe)
            .field("limits", &self.limits)
            .finish()
    }
}

impl EvidenceStore {
    /// A store over any [`ObjectStore`] (tests give their own).
    pub fn new(store: Arc<dyn ObjectStore>, limits: PhotoLimits, describe: String) -> Self {
        EvidenceStore {
            store,
            limits,
            permits: Arc::new(tokio::sync::Semaphore::new(2)),
            pixels: Arc::new(tokio::sync::Semaphore::new(
                Self::megapixels(limits.max_pixels) + 12,
            )),
            describe,
        }
    }

    /// A local folder (made if missing).
    pub fn local(dir: &Path, limits: PhotoLimits) -> Result<Self, StoreError> {
        let err = |e: &dyn std::fmt::Display| StoreError::Dir {
            dir: dir.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(|e| err(&e))?;
        Ok(Self::new(
            Arc::new(fs),
            limits,
            format!("folder {}", dir.display()),
        ))
    }

    /// An S3-compatible store, `s3://bucket[/prefix]`; credentials, region and endpoint from
    /// the usual `AWS_*` variables (`AWS_ENDPOINT` for MinIO and the like), then from
    /// `options` (object_store's keys: `aws_endpoint`, `aws_allow_http`, …).
    pub fn s3<'o>(
        url: &str,
        limits: PhotoLimits,
        options: impl IntoIterator<Item = (&'o str, &'o str)>,
    ) -> Result<Self, StoreError> {
        let err = |m: String| StoreError::Url {
            url: url.to_string(),
            message: m,
        };
        let parsed = url::Url::parse(url).map_err(|e| err(e.to_string()))?;
        if parsed.scheme() != "s3" || parsed.host_str().is_none_or(str::is_empty) {
            return Err(err("write it as s3://bucket or s3://bucket/prefix".into()));
        }
        // its HTTP client is reqwest over rustls, which needs its provider before it is built
        crate::install_crypto();
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(url);
        for (k, v) in options {
            let key = k
                .parse::<object_store::aws::AmazonS3ConfigKey>()
                .map_err(|e| err(e.to_string()))?;
            builder = builder.with_config(key, v);
        }
        let s3 = builder.build().map_err(|e| err(e.to_string()))?;
        let prefix = parsed.path().trim_matches('/').to_string();
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        Ok(Self::new(store, limits, url.to_string()))
    }

    fn megapixels(pixels: u64) -> usize {
        usize::try_from(pixels.div_ceil(1_000_000)).unwrap_or(usize::MAX)
    }

    /// [`process`] off the async threads: at most two at a time, and their pixels bounded
    /// together (the header is read first to weigh the photo).
    pub async fn process(&self, bytes: Vec<u8>) -> Result<Processed, PhotoError> {
        let limits = self.limits;
        let stopped =
            |e: tokio::task::JoinError| PhotoError::Corrupt(format!("the decoder stopped: {e}"));
        let (bytes, size) = tokio::task::spawn_blocking(move || {
            let size = dimensions(&bytes, &limits);
            (bytes, size)
        })
        .await
        .map_err(stopped)?;
        // a photo that will be refused weighs nothing; one at the limit weighs the most
        let weight = size.map_or(1, |(w, h)| {
            Self::megapixels(u64::from(w) * u64::from(h))
                .clamp(1, Self::megapixels(limits.max_pixels))
        });
        let _count = self.permits.acquire().await;
        let _pixels = self
            .pixels
            .acquire_many(u32::try_from(weight).unwrap_or(u32::MAX))
            .await;
        tokio::task::spawn_blocking(move || process(&bytes, &limits))
            .await
            .unwrap_or_else(|e| Err(stopped(e)))
    }

    /// Writes an object (whole or not at all: a local folder writes a temporary file and
    /// renames it; S3 stores an object whole).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(Bytes::from(bytes)))
            .await
            .map(|_| ())
    }

    /// Reads an object.
    pub async fn get(&self, key: &str) -> object_store::Result<object_store::GetResult> {
        self.store.get(&ObjectPath::from(key)).await
    }

    /// Deletes an object; one already gone is fine.
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Err(object_store::Error::NotFound { .. }) | Ok(()) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        }));
        encode_jpeg(img).unwrap()
    }

    /// A JPEG with an EXIF block (orientation 6: turned right) holding a GPS-like marker.
    fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
        let plain = jpeg(w, h);
        // TIFF little-endian, one IFD entry: Orientation (0x0112) SHORT 1 = 6
        let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
        tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(b"GPS 16.43N 102.83E");
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let len = (app1.len() + 2) as u16;
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&plain[2..]);
        out
    }

    #[test]
    fn the_type_comes_from_the_bytes() {
        assert_eq!(sniff(&jpeg(4, 4)).unwrap(), ImageFormat::Jpeg);
        assert!(matches!(
            sniff(b"%PDF-1.7 not a photo"),
            Err(PhotoError::Unsupported { .. })
        ));
        // a GIF is an image, but not one logbook keeps
        assert!(matches!(
            sniff(b"GIF89a\x01\x00\x01\x00"),
            Err(PhotoError::Unsupported { found }) if found == "Gif"
        ));
    }

    #[test]
    fn exif_is_dropped_and_its_orientation_applied() {
        let raw = jpeg_with_exif(40, 20);
        assert!(raw.windows(6).any(|w| w == b"Exif\0\0"));
        let p = process(&raw, &PhotoLimits::default()).unwrap();
        // turned upright: 40×20 shown turned right is 20×40
        assert_eq!((p.width, p.height), (20, 40));
        assert!(!p.photo.windows(4).any(|w| w == b"Exif"));
        assert!(!p.photo.windows(3).any(|w| w == b"GPS"));
        assert_eq!(p.media_type, "image/jpeg");
        assert_eq!(image::guess_format(&p.thumb).unwrap(), ImageFormat::Jpeg);
    }

    #[test]
    fn large_photos_are_scaled_and_limits_hold_before_decoding() {
        let limits = PhotoLimits {
            served_edge: 64,
            thumb_edge: 16,
            ..PhotoLimits::default()
        };
        let p = process(&jpeg(200, 100), &limits).unwrap();
        assert_eq!((p.width, p.height), (64, 32));
        let t = image::load_from_memory(&p.thumb).unwrap();
        assert_eq!((t.width(), t.height()), (16, 8));

        let small = PhotoLimits {
            max_pixels: 100,
            ..PhotoLimits::default()
        };
        assert_eq!(
            process(&jpeg(20, 20), &small).unwrap_err(),
            PhotoError::TooManyPixels {
                width: 20,
                height: 20,
                max: 100
            }
        );
        let tiny = PhotoLimits {
            max_bytes: 10,
            ..PhotoLimits::default()
        };
        assert!(matches!(
            process(&jpeg(20, 20), &tiny),
            Err(PhotoError::TooLarge { max: 10, .. })
        ));
        assert_eq!(process(&[], &tiny).unwrap_err(), PhotoError::Empty);
    }

    #[test]
    fn damaged_and_hostile_headers_are_refused_not_panicked_on() {
        // a JPEG cut after its header
        let whole = jpeg(64, 64);
        assert!(matches!(
            process(&whole[..whole.len() / 3], &PhotoLimits::default()),
            Err(PhotoError::Corrupt(_))
        ));
        // a PNG header claiming 100000 × 100000 pixels: refused before any buffer
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&[8, 2, 0, 0, 0]);
        let crc = {
            let mut h = flate2::Crc::new();
            h.update(&png[12..]);
            h.sum()
        };
        png.extend_from_slice(&crc.to_be_bytes());
        let e = process(&png, &PhotoLimits::default()).unwrap_err();
        assert!(
            matches!(e, PhotoError::TooManyPixels { .. } | PhotoError::Corrupt(_)),
            "{e:?}"
        );
        // random bytes after a JPEG signature
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0];
        junk.extend((0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        assert!(process(&junk, &PhotoLimits::default()).is_err());
    }

    #[test]
    fn png_with_alpha_stays_png() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            8,
            8,
            image::Rgba([1, 2, 3, 100]),
        ));
        let bytes = encode_png(&img).unwrap();
        let p = process(&bytes, &PhotoLimits::default()).unwrap();
        assert_eq!(p.media_type, "image/png");
        assert_eq!(p.extension, "png");
    }

    #[test]
    fn s3_urls_are_checked() {
        let none = || std::iter::empty::<(&str, &str)>();
        assert!(EvidenceStore::s3("http://bucket", PhotoLimits::default(), none()).is_err());
        assert!(EvidenceStore::s3("s3://", PhotoLimits::default(), none()).is_err());
        assert!(
            EvidenceStore::s3("s3://b", PhotoLimits::default(), [("no_such_key", "1")]).is_err()
        );
    }
}
