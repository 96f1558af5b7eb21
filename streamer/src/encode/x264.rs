//! H.264 through libx264, tuned for a desktop: zero latency (no B-frames, no lookahead),
//! an infinite GOP with an IDR only when asked (a viewer joins or a decoder needs one), CRF
//! changed per frame for paint-over, BT.709 limited-range VUI tags and Annex-B output with
//! SPS/PPS in front of every IDR.
//!
//! Odd sizes: 4:2:0 H.264 crops only in steps of two pixels, so an odd-sized output is
//! encoded one pixel wider/taller (the padding repeats nothing: it is black) and the video
//! header's frame size, which is exact, tells the client what to show.
//!
//! Damage guides the encoder: every macroblock outside the frame's damage is marked
//! unchanged (`mb_info`, `X264_MBINFO_CONSTANT`), so x264 skips it without motion search or
//! mode decision and a typed glyph costs a few macroblocks of analysis, not 8160. Weighted
//! prediction is off, as that needs. The same map, as rectangles, goes to the client with
//! each P-frame ([`EncodedFrame::damage`]), which draws the decoded picture only there.
//!
//! One format for the whole stream: 4:2:0 (High profile). The paint-over refresh is a
//! P-frame at the refresh CRF; full-chroma sharpness comes from JPEG 4:4:4 tiles the
//! pipeline sends over it, so a keystroke after a refresh never costs an IDR or a decoder
//! reconfiguration.

use std::ffi::{CString, c_int};
use std::mem::MaybeUninit;
use std::ptr;

use x264_sys as sys;

use super::shadow::{Pass, Shadow};
use super::{EncodeError, EncodeParams, EncodedFrame, EncodedPart, Encoder, YuvFrame, check_frame};
use crate::desktop::{Frame, Rect};
use crate::proto::Codec;

/// One libx264 encoder at one size.
struct Session {
    enc: *mut sys::x264_t,
    yuv: YuvFrame,
    crf: u8,
    pts: i64,
    /// One byte per macroblock for `x264_picture_t.prop.mb_info`; x264 reads it during
    /// the encode call that gets it (zero latency: no frame is held back).
    mb_info: Vec<u8>,
    /// The source as last encoded, to drop damage whose pixels did not change.
    shadow: Shadow,
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
        width: u32,
        height: u32,
        crf: u8,
        preset: &str,
        threads: u32,
    ) -> Result<Self, EncodeError> {
        let yuv = YuvFrame::new(width, height);
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
        p.i_csp = sys::X264_CSP_I420 as c_int;
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
            shadow: Shadow::new(width, height),
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
        pass: Pass,
        damage: &[Rect],
        src: &[u8],
        stride: u32,
    ) -> Result<Option<(Vec<u8>, bool)>, EncodeError> {
        let keyframe = pass == Pass::Keyframe;
        mark_unchanged(
            &mut self.mb_info,
            self.yuv.padded_width,
            self.yuv.padded_height,
            damage,
        );
        let mut changed: Vec<bool> = self
            .mb_info
            .iter()
            .map(|&m| m != sys::X264_MBINFO_CONSTANT as u8)
            .collect();
        self.shadow.refine(&mut changed, src, stride as usize, pass);
        for (m, c) in self.mb_info.iter_mut().zip(changed) {
            *m = if c {
                0
            } else {
                sys::X264_MBINFO_CONSTANT as u8
            };
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
            pic.img.i_csp = sys::X264_CSP_I420 as c_int;
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

/// The rectangles of `map` (as [`mark_unchanged`] fills it) that x264 may change, one per
/// run of macroblocks on a row, runs of equal columns on consecutive rows merged, clipped
/// to the `width` x `height` output. `None` when there are more than the wire carries.
fn changed_rects(map: &[u8], width: u32, height: u32) -> Option<Vec<Rect>> {
    let across = width.div_ceil(16) as usize;
    let mut done: Vec<Rect> = Vec::new();
    // Rectangles still growing downwards, as (first column, last column + 1, index in done).
    let mut open: Vec<(usize, usize, usize)> = Vec::new();
    for (row, mbs) in map.chunks(across.max(1)).enumerate() {
        let y = row as u32 * 16;
        if y >= height {
            break;
        }
        let rows = 16.min(height - y);
        let mut next_open = Vec::new();
        let mut x = 0;
        while x < mbs.len() {
            if mbs[x] == sys::X264_MBINFO_CONSTANT as u8 {
                x += 1;
                continue;
            }
            let start = x;
            while x < mbs.len() && mbs[x] != sys::X264_MBINFO_CONSTANT as u8 {
                x += 1;
            }
            let px = start as u32 * 16;
            let pw = (x as u32 * 16).min(width) - px;
            match open.iter().find(|o| o.0 == start && o.1 == x) {
                Some(&(_, _, i)) => {
                    done[i].height += rows;
                    next_open.push((start, x, i));
                }
                None => {
                    if done.len() == crate::proto::MAX_DAMAGE_RECTS {
                        return None;
                    }
                    done.push(Rect::new(px, y, pw, rows));
                    next_open.push((start, x, done.len() - 1));
                }
            }
        }
        open = next_open;
    }
    Some(done)
}

/// The x264 encoder of the pipeline: one 4:2:0 session, reopened when the size changes.
pub struct X264Encoder {
    preset: String,
    threads: u32,
    session: Option<Session>,
}

impl X264Encoder {
    /// `preset` is an x264 preset (`ultrafast`, `superfast`…); `threads` 0 lets x264 pick.
    pub fn new(preset: &str, threads: u32) -> Self {
        Self {
            preset: preset.to_owned(),
            threads,
            session: None,
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
        let mut fresh = false;
        if self
            .session
            .as_ref()
            .is_none_or(|s| s.yuv.width != frame.width || s.yuv.height != frame.height)
        {
            self.session = None;
            self.session = Some(Session::open(
                frame.width,
                frame.height,
                params.crf,
                &self.preset,
                self.threads,
            )?);
            fresh = true;
        }
        let Some(session) = self.session.as_mut() else {
            return Err(EncodeError::X264Open {
                width: frame.width,
                height: frame.height,
            });
        };
        let keyframe = params.keyframe || fresh;
        let full = [Rect::new(0, 0, frame.width, frame.height)];
        let rows: &[Rect] = if keyframe { &full } else { damage };
        session.yuv.update(bytes, frame.stride, rows)?;
        session.set_crf(params.crf);
        let pass = if keyframe {
            Pass::Keyframe
        } else if params.refresh {
            Pass::Refresh
        } else {
            Pass::Motion
        };
        let Some((data, is_key)) = session.encode(pass, damage, bytes, frame.stride)? else {
            return Ok(None);
        };
        let damage = if is_key {
            None
        } else {
            changed_rects(&session.mb_info, frame.width, frame.height)
        };
        Ok(Some(EncodedFrame {
            codec: Codec::H264,
            keyframe: is_key,
            chroma444: false,
            width: frame.width,
            height: frame.height,
            parts: vec![EncodedPart {
                region: Rect::new(0, 0, frame.width, frame.height),
                data,
            }],
            damage,
            overlay: false,
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

    fn rects(width: u32, height: u32, damage: &[Rect]) -> Option<Vec<Rect>> {
        let mut map = Vec::new();
        mark_unchanged(&mut map, width, height, damage);
        changed_rects(&map, width, height)
    }

    #[test]
    fn the_client_gets_the_changed_macroblocks_as_rectangles() {
        // Nothing changed: an empty list, not "everything".
        assert_eq!(rects(64, 32, &[]), Some(vec![]));
        // One glyph: its macroblock.
        assert_eq!(
            rects(64, 32, &[Rect::new(18, 2, 8, 12)]),
            Some(vec![Rect::new(16, 0, 16, 16)])
        );
        // Straddling borders: one 2x2 block of macroblocks, merged down the rows.
        assert_eq!(
            rects(64, 48, &[Rect::new(15, 15, 2, 2)]),
            Some(vec![Rect::new(0, 0, 32, 32)])
        );
        // Two separate runs on a row stay two; a different run below starts a new one.
        assert_eq!(
            rects(64, 48, &[Rect::new(0, 0, 1, 20), Rect::new(40, 0, 1, 1)]),
            Some(vec![Rect::new(0, 0, 16, 32), Rect::new(32, 0, 16, 16),])
        );
        // The last row and column are clipped to the output, not the padded picture.
        assert_eq!(
            rects(33, 17, &[Rect::new(32, 16, 1, 1)]),
            Some(vec![Rect::new(32, 16, 1, 1)])
        );
    }

    #[test]
    fn scattered_damage_beyond_the_wire_limit_means_the_whole_frame() {
        // A checkerboard of single macroblocks: far more rectangles than the list holds.
        let damage: Vec<Rect> = (0..68)
            .flat_map(|row| {
                (0..60).map(move |col| Rect::new(col * 32 + (row % 2) * 16, row * 16, 1, 1))
            })
            .collect();
        assert_eq!(rects(1920, 1088, &damage), None);
        let few: Vec<Rect> = (0..8).map(|i| Rect::new(i * 200, i * 100, 3, 3)).collect();
        assert_eq!(rects(1920, 1080, &few).map(|r| r.len()), Some(8));
    }
}
