use super::*;

#[test]
fn blocks_move_between_the_allocators_intact() {
    // Grows a vector across the threshold and shrinks it back, checking
    // the contents at each step (the binary's allocator is this one;
    // here it is called directly).
    let a = Allocator;
    let small = Layout::from_size_align(1000, 8).unwrap();
    // SAFETY: valid layouts, blocks used within their sizes and freed once.
    unsafe {
        let p = a.alloc(small);
        assert!(!p.is_null());
        for i in 0..1000 {
            *p.add(i) = (i % 251) as u8;
        }
        let big = a.realloc(p, small, LARGE * 2);
        assert!(!big.is_null());
        for i in 0..1000 {
            assert_eq!(*big.add(i), (i % 251) as u8);
        }
        *big.add(LARGE * 2 - 1) = 7;
        let big_layout = Layout::from_size_align(LARGE * 2, 8).unwrap();
        let back = a.realloc(big, big_layout, 500);
        assert!(!back.is_null());
        for i in 0..500 {
            assert_eq!(*back.add(i), (i % 251) as u8);
        }
        a.dealloc(back, Layout::from_size_align(500, 8).unwrap());

        let z = a.alloc_zeroed(big_layout);
        assert!(!z.is_null());
        assert!((0..LARGE * 2).step_by(4096).all(|i| *z.add(i) == 0));
        a.dealloc(z, big_layout);
    }
}
