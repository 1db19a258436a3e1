// gemm_core: the cores' tile products of MeshGEMM (src/mesh/programs/meshgemm.ts), one invocation
// per core of the P × P grid: C += A · B on the tiles in its own SRAM. Between products
// shaders/fabric.wgsl shifts the A and B tiles to the neighbours on the interleaved ring; a core
// here reads and writes only its own slice, through ld / st.
// Shapes: sram (W*H, SRAM) f32; counters u32: [0] accesses outside the slice, then FLOPs per core.

override W: u32; // mesh width
override SRAM: u32; // words of SRAM per core
override P: u32; // the grid's side (the top-left P × P cores)
override MT: u32; // A is MT × KT, B KT × NT, C MT × NT (padded tiles)
override KT: u32;
override NT: u32;
override OA: u32; // word offsets of the tiles
override OB: u32;
override OC: u32;
override INSTRUMENT: bool = false;

@group(0) @binding(0) var<storage, read_write> sram: array<f32>;
@group(0) @binding(1) var<storage, read_write> counters: array<atomic<u32>>;

var<private> me: u32;

// Own SRAM: word a of this core's slice.
fn ld(a: u32) -> f32 {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
  }
  return sram[me * SRAM + min(a, SRAM - 1u)];
}

fn st(a: u32, v: f32) {
  if (INSTRUMENT && a >= SRAM) {
    atomicAdd(&counters[0], 1u);
    return;
  }
  sram[me * SRAM + a] = v;
}

@compute @workgroup_size(16)
fn tile_product(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x >= P * P) {
    return;
  }
  me = (gid.x / P) * W + gid.x % P;
  for (var i = 0u; i < MT; i++) {
    for (var j = 0u; j < NT; j++) {
      var acc = ld(OC + i * NT + j);
      for (var k = 0u; k < KT; k++) {
        acc += ld(OA + i * KT + k) * ld(OB + k * NT + j);
      }
      st(OC + i * NT + j, acc);
    }
  }
  if (INSTRUMENT) {
    atomicAdd(&counters[1u + me], 2u * MT * NT * KT);
  }
}
