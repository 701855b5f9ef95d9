// libpng and libjpeg report errors through longjmp / callbacks; both are turned into atrous::Error naming the file.
#include "data/image_io.h"

#include <jpeglib.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace atrous {
namespace {

struct FileCloser {
  void operator()(FILE* f) const {
    if (f) std::fclose(f);
  }
};
using File = std::unique_ptr<FILE, FileCloser>;

File open_file(const std::string& path, const char* mode) {
  File f(std::fopen(path.c_str(), mode));
  ATROUS_CHECK(f, "cannot open image file '", path, "' (", std::strerror(errno), ")");
  return f;
}

enum class Format { Png, Jpeg };

Format sniff(FILE* f, const std::string& path) {
  unsigned char magic[8] = {};
  const size_t n = std::fread(magic, 1, 8, f);
  std::rewind(f);
  if (n >= 8 && png_sig_cmp(magic, 0, 8) == 0) return Format::Png;
  if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return Format::Jpeg;
  ATROUS_FAIL("image file '", path, "' is neither PNG nor JPEG (", n < 8 ? "too short" : "unknown signature", ")");
}

// ---- PNG ----

struct PngError {
  std::string message;
};

void png_error_handler(png_structp png, png_const_charp message) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  err->message = message;
  png_longjmp(png, 1);
}
void png_warning_handler(png_structp, png_const_charp) {}

// Decodes a PNG as RGB, or (want_labels) as one channel keeping palette indices.
Tensor decode_png(FILE* f, const std::string& path, bool want_labels) {
  PngError err;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_error_handler, png_warning_handler);
  ATROUS_CHECK(png, "libpng: cannot create a read struct for '", path, "'");
  png_infop info = png_create_info_struct(png);
  Tensor out;
  std::vector<png_bytep> rows;
  std::vector<png_byte> wide;  // 16-bit label samples, before the range check
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    ATROUS_FAIL("corrupt PNG '", path, "': ", err.message);
  }
  png_init_io(png, f);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
  const int colour = png_get_color_type(png, info);
  // Stripping keeps the high byte: right for colours, but it would turn 16-bit label values 0..255 into 0. Label
  // maps keep all 16 bits and must fit in 8.
  const bool wide_labels = want_labels && png_get_bit_depth(png, info) == 16;
  if (png_get_bit_depth(png, info) == 16 && !wide_labels) png_set_strip_16(png);
  if (png_get_bit_depth(png, info) < 8) {
    if (colour == PNG_COLOR_TYPE_PALETTE && want_labels) {
      png_set_packing(png);  // indices one per byte
    } else if (colour == PNG_COLOR_TYPE_GRAY) {
      png_set_expand_gray_1_2_4_to_8(png);
    } else {
      png_set_packing(png);
    }
  }
  int channels = 3;
  if (want_labels) {
    if (colour == PNG_COLOR_TYPE_RGB || colour == PNG_COLOR_TYPE_RGB_ALPHA) {
      png_destroy_read_struct(&png, &info, nullptr);
      ATROUS_FAIL("label map '", path, "' is a colour PNG; expected a palette or greyscale PNG of class indices");
    }
    if (colour & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    channels = 1;
  } else {
    if (colour == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);  // transparency (tRNS) is dropped
    if (colour == PNG_COLOR_TYPE_GRAY || colour == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    if (colour & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
  }
  png_read_update_info(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (rowbytes != static_cast<size_t>(width) * channels * (wide_labels ? 2 : 1)) {
    png_destroy_read_struct(&png, &info, nullptr);
    ATROUS_FAIL("PNG '", path, "': unsupported pixel layout (", rowbytes, " bytes per row for width ", width, ")");
  }
  out = Tensor::empty(want_labels ? Shape{height, width} : Shape{height, width, 3}, DType::u8);
  rows.resize(height);
  if (wide_labels) wide.resize(static_cast<size_t>(height) * rowbytes);
  for (png_uint_32 y = 0; y < height; ++y) {
    rows[y] = (wide_labels ? wide.data() : out.data<uint8_t>()) + static_cast<size_t>(y) * rowbytes;
  }
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  if (wide_labels) {
    uint8_t* labels = out.data<uint8_t>();
    const size_t pixels = static_cast<size_t>(height) * width;
    for (size_t i = 0; i < pixels; ++i) {
      const unsigned value = (static_cast<unsigned>(wide[2 * i]) << 8) | wide[2 * i + 1];  // PNG is big-endian
      ATROUS_CHECK(value <= 255, "label map '", path, "' is a 16-bit PNG with value ", value, " at (y ", i / width,
                   ", x ", i % width, "); label values must fit in 8 bits");
      labels[i] = static_cast<uint8_t>(value);
    }
  }
  return out;
}

// ---- JPEG ----

struct JpegError {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg only warns about corrupt or truncated data and fills the rest with grey; we refuse such images rather
// than train on silent garbage.
void jpeg_warning_is_error(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_error_exit(cinfo);
}

Tensor decode_jpeg(FILE* f, const std::string& path) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit;
  err.base.emit_message = jpeg_warning_is_error;
  Tensor out;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    ATROUS_FAIL("corrupt JPEG '", path, "': ", err.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_stdio_src(&cinfo, f);
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;  // grey and YCbCr both come out as RGB
  jpeg_start_decompress(&cinfo);
  out = Tensor::empty({static_cast<int64_t>(cinfo.output_height), static_cast<int64_t>(cinfo.output_width), 3}, DType::u8);
  uint8_t* data = out.data<uint8_t>();
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = data + static_cast<size_t>(cinfo.output_scanline) * cinfo.output_width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return out;
}

// Writes through `write(FILE*)` into a temporary file beside `path`, then renames it into place.
template <typename Writer>
void write_atomically(const std::string& path, Writer write) {
  const std::string tmp = path + ".tmp";
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    ATROUS_CHECK(f, "cannot write image file '", path, "' (", std::strerror(errno), ")");
    try {
      write(f.get());
    } catch (...) {
      f.reset();
      std::remove(tmp.c_str());
      throw;
    }
    ATROUS_CHECK(std::fflush(f.get()) == 0, "cannot write image file '", path, "' (", std::strerror(errno), ")");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    ATROUS_FAIL("cannot move image file into place at '", path, "' (", std::strerror(errno), ")");
  }
}

void encode_png(FILE* f, const std::string& path, const Tensor& image, const std::vector<std::array<uint8_t, 3>>* palette) {
  const Tensor img = image.contiguous();
  const int64_t height = img.size(0), width = img.size(1);
  PngError err;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_error_handler, png_warning_handler);
  ATROUS_CHECK(png, "libpng: cannot create a write struct for '", path, "'");
  png_infop info = png_create_info_struct(png);
  std::vector<png_color> colours;
  std::vector<png_bytep> rows(height);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ATROUS_FAIL("writing PNG '", path, "' failed: ", err.message);
  }
  png_init_io(png, f);
  const int type = img.dim() == 3 ? PNG_COLOR_TYPE_RGB : palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_GRAY;
  png_set_IHDR(png, info, width, height, 8, type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    for (const auto& c : *palette) colours.push_back({c[0], c[1], c[2]});
    png_set_PLTE(png, info, colours.data(), static_cast<int>(colours.size()));
  }
  png_write_info(png, info);
  for (int64_t y = 0; y < height; ++y)
    rows[y] = const_cast<uint8_t*>(img.data<uint8_t>()) + static_cast<size_t>(y) * width * (img.dim() == 3 ? 3 : 1);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

void check_image(const char* op, const std::string& path, const Tensor& image, bool allow_grey) {
  ATROUS_CHECK(image.defined() && image.dtype() == DType::u8 && image.device().is_cpu() &&
                   ((image.dim() == 3 && image.size(2) == 3) || (allow_grey && image.dim() == 2)) &&
                   image.numel() > 0,
               op, " '", path, "': expected a non-empty u8 CPU tensor [H,W,3]", allow_grey ? " or [H,W]" : "",
               ", got ", image.description());
}

}  // namespace

Tensor read_image_rgb(const std::string& path) {
  File f = open_file(path, "rb");
  return sniff(f.get(), path) == Format::Png ? decode_png(f.get(), path, false) : decode_jpeg(f.get(), path);
}

Tensor read_label_png(const std::string& path) {
  File f = open_file(path, "rb");
  ATROUS_CHECK(sniff(f.get(), path) == Format::Png, "label map '", path,
               "' is a JPEG; labels must be lossless PNGs (JPEG artefacts change class indices)");
  return decode_png(f.get(), path, true);
}

void write_png(const std::string& path, const Tensor& image) {
  check_image("write_png", path, image, true);
  write_atomically(path, [&](FILE* f) { encode_png(f, path, image, nullptr); });
}

void write_palette_png(const std::string& path, const Tensor& labels, const std::vector<std::array<uint8_t, 3>>& palette) {
  ATROUS_CHECK(labels.defined() && labels.dtype() == DType::u8 && labels.dim() == 2 && labels.numel() > 0,
               "write_palette_png '", path, "': expected a non-empty u8 label map [H,W], got ", labels.description());
  ATROUS_CHECK(!palette.empty() && palette.size() <= 256, "write_palette_png '", path, "': palette must have 1..256 colours, got ",
               palette.size());
  // Indices beyond the palette (e.g. 255 = ignore with a 21-colour palette) need entries: pad to 256 with white.
  std::vector<std::array<uint8_t, 3>> full = palette;
  const Tensor l = labels.contiguous();
  uint8_t highest = 0;
  for (int64_t i = 0; i < l.numel(); ++i) highest = std::max(highest, l.data<uint8_t>()[i]);
  while (full.size() <= highest) full.push_back({255, 255, 255});
  write_atomically(path, [&](FILE* f) { encode_png(f, path, l, &full); });
}

void write_jpeg(const std::string& path, const Tensor& image_in, int quality) {
  check_image("write_jpeg", path, image_in, false);
  ATROUS_CHECK(quality >= 1 && quality <= 100, "write_jpeg '", path, "': quality must be 1..100, got ", quality);
  const Tensor image = image_in.contiguous();
  write_atomically(path, [&](FILE* f) {
    jpeg_compress_struct cinfo;
    JpegError err;
    cinfo.err = jpeg_std_error(&err.base);
    err.base.error_exit = jpeg_error_exit;
    if (setjmp(err.jump)) {
      jpeg_destroy_compress(&cinfo);
      ATROUS_FAIL("writing JPEG '", path, "' failed: ", err.message);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, f);
    cinfo.image_width = static_cast<JDIMENSION>(image.size(1));
    cinfo.image_height = static_cast<JDIMENSION>(image.size(0));
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
      JSAMPROW row = const_cast<uint8_t*>(image.data<uint8_t>()) + static_cast<size_t>(cinfo.next_scanline) * cinfo.image_width * 3;
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
  });
}

}  // namespace atrous
