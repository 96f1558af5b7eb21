use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Add(u8, i32, i32),
    Remove(u8),
    Click(i32, i32),
    Focus(u8),
    Move(u8, i32, i32),
    Resize(u8, i32, i32),
    Limits(u8, Limits),
    Maximize(u8, bool),
    Fullscreen(u8, bool),
    Minimize(u8, bool),
    Output(i32, i32),
    Reserve(Reserved),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0u8..6;
    prop_oneof![
        (id.clone(), -10..3000i32, -10..3000i32).prop_map(|(i, w, h)| Op::Add(i, w, h)),
        id.clone().prop_map(Op::Remove),
        (-100..4000i32, -100..3000i32).prop_map(|(x, y)| Op::Click(x, y)),
        id.clone().prop_map(Op::Focus),
        (id.clone(), -5000..5000i32, -5000..5000i32).prop_map(|(i, x, y)| Op::Move(i, x, y)),
        (id.clone(), -10..5000i32, -10..5000i32).prop_map(|(i, w, h)| Op::Resize(i, w, h)),
        (id.clone(), 0..800i32, 0..800i32, 0..2000i32, 0..2000i32).prop_map(
            |(i, min_w, min_h, max_w, max_h)| Op::Limits(
                i,
                Limits {
                    min_w,
                    min_h,
                    max_w,
                    max_h
                }
            )
        ),
        (id.clone(), any::<bool>()).prop_map(|(i, b)| Op::Maximize(i, b)),
        (id.clone(), any::<bool>()).prop_map(|(i, b)| Op::Fullscreen(i, b)),
        (id, any::<bool>()).prop_map(|(i, b)| Op::Minimize(i, b)),
        (1..4000i32, 1..3000i32).prop_map(|(w, h)| Op::Output(w, h)),
        (0..400i32, 0..400i32, 0..400i32, 0..400i32).prop_map(|(top, bottom, left, right)| {
            Op::Reserve(Reserved {
                top,
                bottom,
                left,
                right,
            })
        }),
    ]
}

fn apply(layout: &mut Layout, op: &Op) {
    let id = |i: &u8| WindowId(u64::from(*i));
    match op {
        Op::Add(i, w, h) => {
            layout.add_window(id(i), *w, *h);
        }
        Op::Remove(i) => layout.remove_window(id(i)),
        Op::Click(x, y) => {
            let hit = layout.window_at(f64::from(*x), f64::from(*y));
            let clicked = layout.click(f64::from(*x), f64::from(*y));
            assert_eq!(hit, clicked);
            assert_eq!(layout.focus(), clicked, "focus follows the click");
            if let Some(c) = clicked {
                assert_eq!(layout.windows().last().map(|w| w.id), Some(c), "raised");
            }
        }
        Op::Focus(i) => layout.focus_window(id(i)),
        Op::Move(i, x, y) => layout.move_window(id(i), *x, *y),
        Op::Resize(i, w, h) => layout.resize_window(id(i), *w, *h),
        Op::Limits(i, l) => layout.set_limits(id(i), *l),
        Op::Maximize(i, b) => layout.set_maximized(id(i), *b),
        Op::Fullscreen(i, b) => layout.set_fullscreen(id(i), *b),
        Op::Minimize(i, b) => layout.set_minimized(id(i), *b),
        Op::Output(w, h) => {
            layout.set_output_size(*w, *h);
            all_floating_inside(layout);
        }
        Op::Reserve(r) => {
            layout.set_reserved(*r);
            all_floating_inside(layout);
        }
    }
}

/// After the usable area changes, a floating window lies wholly inside it unless its
/// minimum size is larger.
fn all_floating_inside(layout: &Layout) {
    if layout.single_app() {
        return;
    }
    let u = layout.usable();
    for w in layout.windows() {
        let r = w.rect;
        let fits = w.limits.min_w <= u.w && w.limits.min_h <= u.h;
        if w.mode == Mode::Floating && fits {
            assert!(
                r.x >= u.x && r.y >= u.y && r.x + r.w <= u.x + u.w && r.y + r.h <= u.y + u.h,
                "{:?} at {r:?} is not inside {u:?}",
                w.id
            );
        }
    }
}

proptest! {
    #[test]
    fn invariants_hold_after_every_step(
        single_app in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut layout = Layout::new(1920, 1080, single_app);
        for op in &ops {
            let before: Vec<WindowId> = layout.windows().iter().map(|w| w.id).collect();
            apply(&mut layout, op);
            if let Err(e) = layout.verify_invariants() {
                return Err(TestCaseError::fail(format!("after {op:?}: {e}")));
            }
            // Stacking is a permutation of the windows: only add/remove change the set.
            let mut after: Vec<WindowId> = layout.windows().iter().map(|w| w.id).collect();
            let mut expected = before.clone();
            match op {
                Op::Add(i, ..) if !before.contains(&WindowId(u64::from(*i))) => {
                    expected.push(WindowId(u64::from(*i)))
                }
                Op::Remove(i) => expected.retain(|w| *w != WindowId(u64::from(*i))),
                _ => {}
            }
            after.sort();
            expected.sort();
            prop_assert_eq!(after, expected);
        }
    }
}

#[test]
fn new_windows_cascade_inside_usable_area() {
    let mut layout = Layout::new(1000, 800, false);
    layout.set_reserved(Reserved {
        top: 40,
        ..Default::default()
    });
    let a = layout.add_window(WindowId(1), 400, 300);
    let b = layout.add_window(WindowId(2), 400, 300);
    assert_eq!(a, Rect::new(300, 40 + (760 - 300) / 2, 400, 300));
    assert_eq!((b.x - a.x, b.y - a.y), (CASCADE_STEP, CASCADE_STEP));
    assert_eq!(layout.focus(), Some(WindowId(2)));
}

#[test]
fn maximize_fills_usable_area_and_restores() {
    let mut layout = Layout::new(1000, 800, false);
    let floating = layout.add_window(WindowId(1), 400, 300);
    layout.set_reserved(Reserved {
        bottom: 50,
        ..Default::default()
    });
    layout.set_maximized(WindowId(1), true);
    assert_eq!(
        layout.get(WindowId(1)).unwrap().rect,
        Rect::new(0, 0, 1000, 750)
    );
    layout.set_fullscreen(WindowId(1), true);
    assert_eq!(
        layout.get(WindowId(1)).unwrap().rect,
        Rect::new(0, 0, 1000, 800)
    );
    layout.set_fullscreen(WindowId(1), false);
    assert_eq!(layout.get(WindowId(1)).unwrap().rect, floating);
}

#[test]
fn minimize_moves_focus_and_click_restores_nothing_hidden() {
    let mut layout = Layout::new(1000, 800, false);
    layout.add_window(WindowId(1), 400, 300);
    layout.add_window(WindowId(2), 400, 300);
    layout.set_minimized(WindowId(2), true);
    assert_eq!(layout.focus(), Some(WindowId(1)));
    layout.set_minimized(WindowId(1), true);
    assert_eq!(layout.focus(), None);
    assert_eq!(layout.click(500.0, 400.0), None);
    layout.set_minimized(WindowId(1), false);
    assert_eq!(layout.focus(), Some(WindowId(1)));
}

#[test]
fn single_app_fills_output_and_ignores_moves() {
    let mut layout = Layout::new(1280, 720, true);
    layout.add_window(WindowId(7), 300, 200);
    layout.move_window(WindowId(7), 50, 50);
    layout.set_minimized(WindowId(7), true);
    let s = layout.get(WindowId(7)).unwrap();
    assert_eq!(s.rect, Rect::new(0, 0, 1280, 720));
    assert!(!s.minimized);
    layout.set_output_size(800, 600);
    assert_eq!(
        layout.get(WindowId(7)).unwrap().rect,
        Rect::new(0, 0, 800, 600)
    );
}

#[test]
fn resize_respects_limits() {
    let mut layout = Layout::new(1000, 800, false);
    layout.add_window(WindowId(1), 400, 300);
    layout.set_limits(
        WindowId(1),
        Limits {
            min_w: 200,
            min_h: 100,
            max_w: 500,
            max_h: 0,
        },
    );
    layout.resize_window(WindowId(1), 50, 5000);
    let r = layout.get(WindowId(1)).unwrap().rect;
    assert_eq!((r.w, r.h), (200, 5000));
    layout.verify_invariants().unwrap();
}

#[test]
fn shrinking_output_pulls_windows_back_inside() {
    let mut layout = Layout::new(1920, 1080, false);
    layout.add_window(WindowId(1), 600, 400);
    layout.move_window(WindowId(1), 1250, 600);
    layout.add_window(WindowId(2), 1800, 1000);
    // The browser window gets smaller: 1280x720.
    layout.set_output_size(1280, 720);
    assert_eq!(
        layout.get(WindowId(1)).unwrap().rect,
        Rect::new(680, 320, 600, 400),
        "moved just enough to be whole again, same size"
    );
    let big = layout.get(WindowId(2)).unwrap().rect;
    assert_eq!(big, Rect::new(0, 0, 1280, 720), "too big: shrunk to fit");
    // A panel appears at the bottom: nothing stays behind it.
    layout.set_reserved(Reserved {
        bottom: 44,
        ..Default::default()
    });
    assert_eq!(
        layout.get(WindowId(1)).unwrap().rect,
        Rect::new(680, 276, 600, 400)
    );
    assert_eq!(
        layout.get(WindowId(2)).unwrap().rect,
        Rect::new(0, 0, 1280, 676)
    );
    // Growing again moves nothing.
    layout.set_output_size(1920, 1080);
    assert_eq!(
        layout.get(WindowId(1)).unwrap().rect,
        Rect::new(680, 276, 600, 400)
    );
    layout.verify_invariants().unwrap();
}
