"""Seeds → z must equal numpy's legacy RandomState(seed).randn, the values the Rust port also checks (docs/stylegan2.md §1.6)."""

import numpy as np

from training.seeds import z_from_seed, z_from_seeds

KNOWN = {
    0: [1.764052345967664, 0.4001572083672233, 0.9787379841057392, 2.240893199201458],
    42: [0.4967141530112327, -0.13826430117118466, 0.6476885381006925, 1.5230298564080254],
    123456: [0.4691122999071863, -0.2828633443286633, -1.5090585031735124, -1.1356323710171934],
}


def test_seeds_match_known_numpy_values():
    for seed, values in KNOWN.items():
        z = z_from_seed(seed, 4)
        assert z.dtype == np.float32
        np.testing.assert_array_equal(z, np.array(values, dtype=np.float32))


def test_z_is_a_prefix_of_a_longer_draw_and_stacks_per_seed():
    np.testing.assert_array_equal(z_from_seed(7, 512), z_from_seed(7, 1024)[:512])
    stacked = z_from_seeds([0, 42], 4)
    assert stacked.shape == (2, 4)
    np.testing.assert_array_equal(stacked[1], np.array(KNOWN[42], dtype=np.float32))
    assert np.isfinite(z_from_seed(2**32 - 1, 8)).all()
