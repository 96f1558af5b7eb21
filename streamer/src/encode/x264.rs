//! H.264 through libx264, tuned for a desktop: zero latency (no B-frames, no lookahead),
//! an infinite GOP with an IDR only when asked (a viewer joins, a decoder needs one, the
//! chroma format switches), CRF changed per frame for paint-over, BT.709 limited-range VUI
//! tags and Annex-B output with SPS/PPS in front of every IDR.
//!
//! Odd sizes: 4:2:0 H.264 crops only in steps of two pixels, so an odd-sized output is
//! encoded one pixel wider/taller (the padding repeats nothing: it is black) and the video
//! header's frame size, which is exact, tells the client what to show.
//!
//! Damage guides the encoder: every macroblock outside the frame's damage is marked
//! unchanged (`mb_info`, `X264_MBINFO_CONSTANT`), so x264 skips it without motion search or
//! mode decision and a typed glyph costs a few macroblocks of analysis, not 8160. Weighted
//! prediction is off, as that needs.
//!
//! 4:4:4 policy: libx264 fixes the chroma format when an encoder is opened, so Skerry keeps
//! one encoder per chroma format. A 4:4:4 paint-over refresh is an IDR from the 4:4:4
//! encoder (new SPS, High 4:4:4 Predictive); the next motion frame is an IDR from the
//! 4:2:0 encoder. Each switch costs one intra frame, paid only when motion starts or stops.

use std::ffi::{CString, c_int};
use std::mem::MaybeUninit;
use std::ptr;

use x264_sys as sys;

use super::{
    Chroma, EncodeError, EncodeParams, EncodedFrame, EncodedPart, Encoder, YuvFrame, check_frame,
};
use crate::desktop::{Frame, Rect};
use crate::proto::Codec;

/// One libx264 encoder at one size and chroma format.
struct Session {
    enc: *mut sys::x264_t,
    yuv: YuvFrame,
    crf: u8,
    pts: i64,
    /// One byte per macroblock for `x264_picture_t.prop.mb_info`; x264 reads it during
    /// the encode call that gets it (zero latency: no frame is held back).
    mb_info: Vec<u8>,
}

// SAFETY: an x264 encoder handle has no thread affinity; Skerry uses each from one thread
// at a time (the pipeline's encode thread), which is all libx264 asks.
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: `enc` came from x264_encoder_open and is closed exactly once.
        unsafe { sys::x264_encoder_close(self.enc) };
    }
}

impl Session {
    fn open(
        chroma: Chroma,
        width: u32,
        height: u32,
        crf: u8,
        preset: &str,
        threads: u32,
    ) -> Result<Self, EncodeError> {
        let yuv = YuvFrame::new(chroma, width, height);
        let open_err = EncodeError::X264Open { width, height };
        let preset = CString::new(preset).map_err(|_| open_err)?;
        let tune = c"zerolatency";
        let mut param = MaybeUninit::<sys::x264_param_t>::uninit();
        // SAFETY: x264_param_default_preset fully initialises the struct when it returns 0.
        let mut p = unsafe {
            if sys::x264_param_default_preset(param.as_mut_ptr(), preset.as_ptr(), tune.as_ptr())
                < 0
            {
                return Err(EncodeError::X264Open { width, height });
            }
            param.assume_init()
        };
        p.i_width = yuv.padded_width as c_int;
        p.i_height = yuv.padded_height as c_int;
        p.i_csp = match chroma {
            Chroma::I420 => sys::X264_CSP_I420 as c_int,
            Chroma::I444 => sys::X264_CSP_I444 as c_int,
        };
        p.i_threads = threads as c_int;
        p.i_log_level = sys::X264_LOG_ERROR as c_int;
        p.i_fps_num = 60;
        p.i_fps_den = 1;
        // One IDR at the start, then only when asked.
        p.i_keyint_max = sys::X264_KEYINT_MAX_INFINITE as c_int;
        p.i_keyint_min = sys::X264_KEYINT_MAX_INFINITE as c_int;
        p.i_scenecut_threshold = 0;
        p.b_intra_refresh = 0;
        p.rc.i_rc_method = sys::X264_RC_CRF as c_int;
        p.rc.f_rf_constant = f32::from(crf);
        p.b_repeat_headers = 1;
        p.b_annexb = 1;
        // BT.709 primaries, transfer and matrix; limited range (what the conversion makes).
        p.vui.i_colorprim = 1;
        p.vui.i_transfer = 1;
        p.vui.i_colmatrix = 1;
        p.vui.b_fullrange = 0;
        // Text is the content that matters: psychovisual tuning and adaptive quantisation
        // both take bits from sharp edges, so they are off.
        p.analyse.b_psy = 0;
        p.rc.i_aq_mode = 0;
        // Whatever the preset, keep 4x4 intra prediction (glyph edges) and CABAC: on
        // `ultrafast`, the default, they cost little time and save bytes on text.
        p.analyse.intra |= sys::X264_ANALYSE_I4x4;
        p.analyse.inter |= sys::X264_ANALYSE_I4x4;
        p.b_cabac = 1;
        // Skip what the damage says did not change (weighted P would break the skip).
        p.analyse.b_mb_info = 1;
        p.analyse.i_weighted_pred = sys::X264_WEIGHTP_NONE as c_int;
        // SAFETY: `p` is a fully initialised parameter set.
        let enc = unsafe { sys::x264_encoder_open(&mut p) };
        if enc.is_null() {
            return Err(EncodeError::X264Open { width, height });
        }
        let mb_info = vec![0; macroblocks(yuv.padded_width, yuv.padded_height).0];
        Ok(Self {
            enc,
            yuv,
            crf,
            pts: 0,
            mb_info,
        })
    }

    fn set_crf(&mut self, crf: u8) {
        if crf == self.crf {
            return;
        }
        let mut param = MaybeUninit::<sys::x264_param_t>::uninit();
        // SAFETY: x264_encoder_parameters fills the struct from a live encoder;
        // x264_encoder_reconfig takes it back and copies what may change mid-stream.
        unsafe {
            sys::x264_encoder_parameters(self.enc, param.as_mut_ptr());
            let mut p = param.assume_init();
            p.rc.f_rf_constant = f32::from(crf);
            if sys::x264_encoder_reconfig(self.enc, &mut p) == 0 {
                self.crf = crf;
            } else {
                tracing::warn!(crf, "x264 refused a CRF change");
            }
        }
    }

    /// Encodes the planes; `damage` (ignored for a keyframe) is what changed since this
    /// session's previous frame.
    fn encode(
        &mut self,
        keyframe: bool,
        damage: &[Rect],
    ) -> Result<Option<(Vec<u8>, bool)>, EncodeError> {
        if !keyframe {
            mark_unchanged(
                &mut self.mb_info,
                self.yuv.padded_width,
                self.yuv.padded_height,
                damage,
            );
        }
        let mut pic = MaybeUninit::<sys::x264_picture_t>::uninit();
        let mut out = MaybeUninit::<sys::x264_picture_t>::uninit();
        let mut nals: *mut sys::x264_nal_t = ptr::null_mut();
        let mut n_nals: c_int = 0;
        // SAFETY: x264_picture_init initialises `pic`; the planes point into `self.yuv`,
        // which outlives the call; libx264 copies the input before returning. The NAL
        // payloads are contiguous (Annex-B) and valid until the next encode call, and
        // are copied out at once.
        let size = unsafe {
            sys::x264_picture_init(pic.as_mut_ptr());
            let mut pic = pic.assume_init();
            pic.img.i_csp = match self.yuv.chroma {
                Chroma::I420 => sys::X264_CSP_I420 as c_int,
                Chroma::I444 => sys::X264_CSP_I444 as c_int,
            };
            pic.img.i_plane = 3;
            pic.img.plane[0] = self.yuv.y.as_mut_ptr();
            pic.img.plane[1] = self.yuv.u.as_mut_ptr();
            pic.img.plane[2] = self.yuv.v.as_mut_ptr();
            pic.img.i_stride[0] = self.yuv.y_stride as c_int;
            pic.img.i_stride[1] = self.yuv.c_stride as c_int;
            pic.img.i_stride[2] = self.yuv.c_stride as c_int;
            pic.i_type = if keyframe {
                sys::X264_TYPE_IDR as c_int
            } else {
                sys::X264_TYPE_AUTO as c_int
            };
            pic.i_pts = self.pts;
            self.pts += 1;
            if !keyframe {
                pic.prop.mb_info = self.mb_info.as_mut_ptr();
                pic.prop.mb_info_free = None;
            }
            let size = sys::x264_encoder_encode(
                self.enc,
                &mut nals,
                &mut n_nals,
                &mut pic,
                out.as_mut_ptr(),
            );
            if size < 0 {
                return Err(EncodeError::X264Encode(size));
            }
            if size == 0 || nals.is_null() || n_nals == 0 {
                return Ok(None);
            }
            size
        };
        // SAFETY: see above; `size` bytes start at the first NAL's payload.
        let data = unsafe { std::slice::from_raw_parts((*nals).p_payload, size as usize) }.to_vec();
        // SAFETY: `out` was written by a successful encode that produced output.
        let is_key = unsafe { out.assume_init().b_keyframe != 0 };
        Ok(Some((data, is_key)))
    }
}

/// Macroblocks across and down a `width` x `height` picture, as (count, across).
fn macroblocks(width: u32, height: u32) -> (usize, usize) {
    let across = width.div_ceil(16) as usize;
    (across * height.div_ceil(16) as usize, across)
}

/// Fills `map` (one byte per macroblock of a `width` x `height` picture, row by row) with
/// `X264_MBINFO_CONSTANT` everywhere except the macroblocks `damage` touches.
fn mark_unchanged(map: &mut Vec<u8>, width: u32, height: u32, damage: &[Rect]) {
    let (count, across) = macroblocks(width, height);
    map.clear();
    map.resize(count, sys::X264_MBINFO_CONSTANT as u8);
    let down = count / across.max(1);
    for r in damage.iter().filter(|r| r.width > 0 && r.height > 0) {
        let (x0, y0) = ((r.x / 16) as usize, (r.y / 16) as usize);
        let x1 = ((r.x + r.width).div_ceil(16) as usize).min(across);
        let y1 = ((r.y + r.height).div_ceil(16) as usize).min(down);
        for row in y0..y1 {
            if let Some(mbs) = map.get_mut(row * across + x0..row * across + x1.max(x0)) {
                mbs.fill(0);
            }
        }
    }
}

/// The x264 encoder of the pipeline: a 4:2:0 session for motion and, opened on demand, a
/// 4:4:4 session for paint-over refreshes.
pub struct X264Encoder {
    preset: String,
    threads: u32,
    i420: Option<Session>,
    i444: Option<Session>,
    /// The chroma format of the last frame sent; switching needs an IDR.
    last: Option<Chroma>,
}

impl X264Encoder {
    /// `preset` is an x264 preset (`ultrafast`, `superfast`…); `threads` 0 lets x264 pick.
    pub fn new(preset: &str, threads: u32) -> Self {
        Self {
            preset: preset.to_owned(),
            threads,
            i420: None,
            i444: None,
            last: None,
        }
    }
}

impl Encoder for X264Encoder {
    fn name(&self) -> &'static str {
        "x264"
    }

    fn codec(&self) -> Codec {
        Codec::H264
    }

    fn encode(
        &mut self,
        frame: &Frame,
        damage: &[Rect],
        params: EncodeParams,
    ) -> Result<Option<EncodedFrame>, EncodeError> {
        let bytes = check_frame(frame)?;
        let chroma = if params.chroma444 {
            Chroma::I444
        } else {
            Chroma::I420
        };
        let slot = match chroma {
            Chroma::I420 => &mut self.i420,
            Chroma::I444 => &mut self.i444,
        };
        let mut fresh = false;
        if slot
            .as_ref()
            .is_none_or(|s| s.yuv.width != frame.width || s.yuv.height != frame.height)
        {
            *slot = None;
            *slot = Some(Session::open(
                chroma,
                frame.width,
                frame.height,
                params.crf,
                &self.preset,
                self.threads,
            )?);
            fresh = true;
        }
        let Some(session) = slot.as_mut() else {
            return Err(EncodeError::X264Open {
                width: frame.width,
                height: frame.height,
            });
        };
        let switched = self.last != Some(chroma);
        let keyframe = params.keyframe || fresh || switched;
        let full = [Rect::new(0, 0, frame.width, frame.height)];
        // A session that sat out frames (the other chroma format ran) has stale planes.
        let rows: &[Rect] = if keyframe { &full } else { damage };
        session.yuv.update(bytes, frame.stride, rows)?;
        session.set_crf(params.crf);
        let Some((data, is_key)) = session.encode(keyframe, damage)? else {
            return Ok(None);
        };
        self.last = Some(chroma);
        Ok(Some(EncodedFrame {
            codec: Codec::H264,
            keyframe: is_key,
            chroma444: chroma == Chroma::I444,
            width: frame.width,
            height: frame.height,
            parts: vec![EncodedPart {
                region: Rect::new(0, 0, frame.width, frame.height),
                data,
            }],
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: u8 = sys::X264_MBINFO_CONSTANT as u8;

    /// The map as rows of `C` (unchanged) and `.` (to analyse), for readable asserts.
    fn picture(width: u32, height: u32, damage: &[Rect]) -> Vec<String> {
        let mut map = Vec::new();
        mark_unchanged(&mut map, width, height, damage);
        let across = width.div_ceil(16) as usize;
        map.chunks(across)
            .map(|row| {
                row.iter()
                    .map(|&m| if m == C { 'C' } else { '.' })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn no_damage_leaves_every_macroblock_unchanged() {
        assert_eq!(picture(64, 32, &[]), ["CCCC", "CCCC"]);
    }

    #[test]
    fn damage_marks_every_macroblock_it_touches() {
        // One glyph inside one macroblock.
        assert_eq!(
            picture(64, 32, &[Rect::new(18, 2, 8, 12)]),
            ["C.CC", "CCCC"]
        );
        // A rectangle straddling macroblock borders on both axes.
        assert_eq!(
            picture(64, 48, &[Rect::new(15, 15, 2, 2)]),
            ["..CC", "..CC", "CCCC"]
        );
        // Edges: a rectangle ending exactly on a border does not spill over.
        assert_eq!(
            picture(64, 48, &[Rect::new(16, 16, 16, 16)]),
            ["CCCC", "C.CC", "CCCC"]
        );
        // Several rectangles, one reaching past the picture (clipped).
        assert_eq!(
            picture(64, 32, &[Rect::new(0, 0, 1, 1), Rect::new(60, 20, 40, 40)]),
            [".CCC", "CCC."]
        );
    }

    #[test]
    fn a_padded_size_rounds_up_to_whole_macroblocks() {
        // 1920x1080 is 120x68 macroblocks (1088 rows encoded).
        assert_eq!(macroblocks(1920, 1088), (120 * 68, 120));
        assert_eq!(macroblocks(1921, 1081), (121 * 68, 121));
        let rows = picture(33, 17, &[Rect::new(32, 16, 1, 1)]);
        assert_eq!(rows, ["CCC", "CC."]);
    }

    #[test]
    fn the_map_is_rebuilt_for_each_frame() {
        let mut map = Vec::new();
        mark_unchanged(&mut map, 32, 16, &[Rect::new(0, 0, 32, 16)]);
        assert_eq!(map, [0, 0]);
        mark_unchanged(&mut map, 32, 16, &[]);
        assert_eq!(map, [C, C]);
    }
}
