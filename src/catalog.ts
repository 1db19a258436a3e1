import { WafermeshError } from './errors.ts';
import { makeConfig, type ModelConfig } from './model/config.ts';

/**
 * The catalog: every hardware preset, algorithm and model wafermesh knows, as data. The CLI (its
 * choices and help), `predict`, the mesh and cost code and the demo (served by its worker) all read
 * their lists from here, so adding a preset is one entry in `CATALOG.hardware`.
 *
 * Every hardware figure is {value, source, assumed?}: `assumed` marks what we had to choose
 * ourselves, and `predict` prints it as such.
 */
export interface Figure {
  readonly value: number;
  readonly source: string;
  readonly assumed?: boolean;
  /** Measured on this hardware by someone else and published (a benchmark's result, not a datasheet rating). */
  readonly measured?: boolean;
}

const fig = (value: number, source: string, assumed = false): Figure => (assumed ? { value, source, assumed } : { value, source });
const measured = (value: number, source: string): Figure => ({ value, source, measured: true });

/** One core of a wafer (the mesh preset: the emulated mesh's size is set per run). */
export interface WaferFigures {
  readonly sramBytes: Figure; // private SRAM per core
  readonly clockHz: Figure;
  readonly wordsPerLinkCycle: Figure; // 32-bit words a link carries per cycle, each direction
  readonly cyclesPerHop: Figure; // router + wire latency of one hop (α)
  readonly cyclesPerRamp: Figure; // a word down the ramp into the core, added or stored, and on (β)
  readonly flopsPerCoreCycle: Figure; // f32 FLOPs one core retires per cycle
  readonly fullWidth: Figure; // the whole wafer's fabric, for predict
  readonly fullHeight: Figure;
  readonly waferToWaferSeconds: Figure; // one activation hand-off between chained wafers
  readonly colours: Figure; // routable colours (virtual channels) per router
}

export interface GpuFigures {
  readonly hbmBytes: Figure; // off-chip memory per chip
  readonly hbmBytesPerS: Figure; // off-chip bandwidth per chip: the datasheet's peak
  /** Off-chip bandwidth per chip that kernels were measured to sustain (published elsewhere); where absent, the model streams at the peak. */
  readonly sustainedHbmBytesPerS?: Figure;
  readonly l2Bytes: Figure; // last on-chip cache level
  readonly fp32Flops: Figure; // dense, per chip
  readonly fp16Flops: Figure; // dense 16-bit tensor rate, per chip
  readonly fp8Flops: Figure; // dense rate for 1-byte weights, per chip
  readonly launchSeconds: Figure; // per kernel: a node of a replayed CUDA graph (or an eager launch where no graph is used)
  readonly graphLaunchSeconds: Figure; // once per token: replaying the captured graph (0 where kernels are launched one by one)
  readonly linkBytesPerS: Figure; // chip-to-chip, per direction per chip (NVLink through NVSwitch, or the vendor's equivalent)
  readonly allreduceSeconds: Figure; // fixed latency of one small-message allreduce between the chips (one-shot, inside a graph)
}

export type HardwarePreset =
  | { readonly id: string; readonly kind: 'wafer'; readonly description: string; readonly figures: WaferFigures }
  | { readonly id: string; readonly kind: 'gpu'; readonly description: string; readonly figures: GpuFigures };

export type HardwareKind = HardwarePreset['kind'];

export interface AlgorithmEntry {
  readonly id: string;
  readonly description: string;
}

/** A model the tools know by name: a checkpoint file (runnable) or only a published shape (predict). */
export interface ModelEntry {
  readonly id: string;
  readonly description: string;
  /** Checkpoint path from the project root; absent for shape-only entries. */
  readonly checkpoint?: string;
  /** Tokenizer path from the project root, when the model has one. */
  readonly tokenizer?: string;
  /** sha256 (lower-case hex) of the checkpoint as shipped: pairs a loaded file with its tokenizer. */
  readonly checkpointSha256?: string;
  /** sha256 of the tokenizer the model was trained with, where it is known. */
  readonly tokenizerSha256?: string;
  /** The published shape, for models whose weights are not here. */
  readonly config?: ModelConfig;
  /** Served by the demo (its files are under public/). */
  readonly demo: boolean;
}

const SEED = "the seed article's WSE-3 vs H100 spec table (../shared/seed/)";
const SDK = 'Cerebras SDK documentation (fabric, routers, wavelets) and WaferLLM (OSDI 2025) PLMR model';

const RAMP =
  'a word taken off the fabric into the core, added (or stored) and sent on: the SDK and WaferLLM say only that this relay costs far more than a hop (α ≪ β); 8 cycles is our assumption';

const WSE3_CORE = {
  sramBytes: fig(48 * 1024, `48 KB per core: 44 GB over ~900,000 cores (${SEED}); Cerebras' WSE documentation`),
  clockHz: fig(1.1e9, `~1.1 GHz: ${SDK}; not published for the WSE-3 that we found`, true),
  wordsPerLinkCycle: fig(1, `one 32-bit wavelet per link per cycle each way: ${SDK}`),
  cyclesPerHop: fig(1, `about one cycle per hop: ${SDK}`),
  cyclesPerRamp: fig(8, `${RAMP}`, true),
  flopsPerCoreCycle: fig(32, `f32, dense: 125 PFLOPS (16-bit, ${SEED}; the table does not say whether it is dense or counts sparsity, and the H100's 3.958 PFLOPS beside it is FP8 with sparsity) / 900,000 cores / 1.1 GHz ≈ 126 16-bit FLOP per core-cycle; we assume a quarter, 32, for f32 dense, and predict twice that, 64, for 16-bit and 8-bit values`, true),
  fullWidth: fig(762, "the SDK's WSE-3 fabric is 762 × 1172 (WaferLLM's compile.py)"),
  fullHeight: fig(1172, "the SDK's WSE-3 fabric is 762 × 1172 (WaferLLM's compile.py)"),
  waferToWaferSeconds: fig(5e-6, 'one activation hand-off between wafers (network hop + I/O)', true),
  colours: fig(24, 'Cerebras SDK documentation: 24 routable colours, some reserved by the runtime'),
} satisfies WaferFigures;

// ---- Off-chip accelerators: every figure from the vendor's datasheet or documentation ----

/**
 * How kernels are launched and allreduced on a GPU server today. A decode step is captured once
 * as a CUDA graph and replayed per token (gpt-fast's `torch.compile(mode="reduce-overhead")`,
 * vLLM, SGLang and TensorRT-LLM all do), so a kernel costs a graph node's gap, not an eager
 * launch; small-message allreduces run one-shot (each GPU reads its peers' partial vectors over
 * NVLink and adds them) or two-shot (reduce-scatter then allgather) inside the graph, as
 * TensorRT-LLM's and vLLM's custom allreduce kernels do (vLLM pull request #2192, "Custom all
 * reduce kernels"; TensorRT-LLM's ONESHOT / TWOSHOT strategies).
 */
const GRAPH_NODE = fig(
  0.58e-6,
  'a node of a replayed CUDA graph: about 15 µs per replay plus 0.58 µs per kernel, measured with chains of no-op kernels (GitHub ahrefs/ocannl issue #488, RTX 5070 Ti Laptop, CUDA 13.3); we assume datacenter GPUs alike',
  true,
);
const GRAPH_REPLAY = fig(15e-6, 'one CUDA graph replay per token: about 15 µs fixed (GitHub ahrefs/ocannl issue #488, same measurement); assumed alike on datacenter GPUs', true);
const NVLINK_ALLREDUCE = fig(
  6e-6,
  'one small-message (≤ 64 KB) allreduce inside a CUDA graph over NVLink/NVSwitch: about 6 µs measured on 2 H100s with NCCL NVLS (GitHub NVIDIA/nccl issue #1259, nccl-tests with CUDA graphs); the same thread reports it growing with more GPUs, so on 8 it is a lower bound',
  true,
);

/**
 * Sustained HBM bandwidth, measured: Microsoft Azure's AI benchmarking guide runs BabelStream
 * (CUDA) on one GPU of each of its ND VM series and publishes the five kernels' rates per GPU
 * model (github.com/Azure/AI-benchmarking-guide, Azure_Results/ND_*_results.md, table "HBM
 * Bandwidth"; Benchmarks/HBMBandwidth.py builds and runs it). We take the largest rate, which is
 * BabelStream's own rule for quoting a single result ("expect this to be the largest bandwidth
 * reported by the benchmark", uob-hpc.github.io/BabelStream, Run rules) and on all three GPUs is
 * Dot: two arrays read and reduced, nothing written — the shape of a decode step, which reads
 * weights and the KV cache and writes almost nothing. One figure per GPU, whatever is run on it.
 */
const AZURE_HBM = 'measured: BabelStream (CUDA) in Microsoft Azure\'s AI benchmarking guide (github.com/Azure/AI-benchmarking-guide, "HBM Bandwidth" table)';

const H100_DS = 'NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)';
const H100 = {
  hbmBytes: fig(80e9, `${H100_DS}: 80 GB HBM3`),
  hbmBytesPerS: fig(3.35e12, `${H100_DS}: 3.35 TB/s; ${SEED}`),
  sustainedHbmBytesPerS: measured(3.18e12, `${AZURE_HBM}, Azure_Results/ND_H100_v5_results.md, NVIDIA H100 80GB HBM3 (SXM): Dot 3.18 TB/s, the largest (Copy 2.90, Mul 2.90, Add 2.97, Triad 2.97)`),
  l2Bytes: fig(50e6, `50 MB: ${SEED}; NVIDIA H100 architecture whitepaper`),
  fp32Flops: fig(67e12, `${H100_DS}: 67 TFLOPS FP32 (dense; no sparsity at FP32)`),
  fp16Flops: fig(989e12, `${H100_DS}: 989 TFLOPS dense BF16 (1,979 with sparsity)`),
  fp8Flops: fig(1979e12, `${H100_DS}: 1,979 TFLOPS dense FP8 (3,958 with sparsity: the seed table's 3.958 PFLOPS)`),
  launchSeconds: GRAPH_NODE,
  graphLaunchSeconds: GRAPH_REPLAY,
  linkBytesPerS: fig(450e9, `${H100_DS}: NVLink 900 GB/s per GPU, 450 each way`),
  allreduceSeconds: NVLINK_ALLREDUCE,
} satisfies GpuFigures;

const H200_DS = 'NVIDIA H200 Tensor Core GPU datasheet (H200 SXM)';
const H200 = {
  ...H100,
  hbmBytes: fig(141e9, `${H200_DS}: 141 GB HBM3e`),
  hbmBytesPerS: fig(4.8e12, `${H200_DS}: 4.8 TB/s`),
  sustainedHbmBytesPerS: measured(4.48e12, `${AZURE_HBM}, Azure_Results/ND_H200_v5_results.md, NVIDIA H200 141GB: Dot 4.48 TB/s, the largest (Copy 4.01, Mul 4.00, Add 4.15, Triad 4.15)`),
  l2Bytes: fig(50e6, 'the H100 die (same GH100 chip; the H200 datasheet does not list its L2)', true),
  fp32Flops: fig(67e12, `${H200_DS}: 67 TFLOPS FP32 (dense; no sparsity at FP32)`),
  fp16Flops: fig(989e12, `${H200_DS}: 989 TFLOPS dense BF16 (1,979 with sparsity)`),
  fp8Flops: fig(1979e12, `${H200_DS}: 1,979 TFLOPS dense FP8 (3,958 with sparsity)`),
  linkBytesPerS: fig(450e9, `${H200_DS}: NVLink 900 GB/s per GPU, 450 each way`),
} satisfies GpuFigures;

const B200_DS = 'NVIDIA DGX B200 datasheet (8 GPUs: 1,440 GB HBM3e, 64 TB/s, NVLink 5 at 1.8 TB/s per GPU) and the HGX B200 per-GPU rates at 1,000 W (as tabulated from NVIDIA by glennklockwood.com/garden/processors/B200)';
const B200 = {
  hbmBytes: fig(180e9, `${B200_DS}: 1,440 GB / 8 = 180 GB per GPU`),
  hbmBytesPerS: fig(8e12, `${B200_DS}: 64 TB/s / 8 = 8 TB/s per GPU`),
  l2Bytes: fig(50e6, 'not in the datasheet; the H100 L2 size assumed (it only decides whether weights could stay on chip, and none do)', true),
  fp32Flops: fig(80e12, `${B200_DS}: 80 TFLOPS FP32 (dense)`),
  fp16Flops: fig(2250e12, `${B200_DS}: 2,250 TFLOPS dense BF16 (4,500 with sparsity)`),
  fp8Flops: fig(4500e12, `${B200_DS}: 4,500 TFLOPS dense FP8 (9,000 with sparsity)`),
  launchSeconds: GRAPH_NODE,
  graphLaunchSeconds: GRAPH_REPLAY,
  linkBytesPerS: fig(900e9, `${B200_DS}: NVLink 5 1.8 TB/s per GPU, 900 each way`),
  allreduceSeconds: NVLINK_ALLREDUCE,
} satisfies GpuFigures;

const A100_DS = 'NVIDIA A100 Tensor Core GPU datasheet (A100 80GB SXM)';
const A100 = {
  hbmBytes: fig(80e9, `${A100_DS}: 80 GB HBM2e`),
  hbmBytesPerS: fig(2.039e12, `${A100_DS}: 2,039 GB/s`),
  sustainedHbmBytesPerS: measured(1.75e12, `${AZURE_HBM}, Azure_Results/ND_A100_v4_results.md, NVIDIA A100-SXM4-80GB: Dot 1.75 TB/s, the largest (Copy 1.61, Mul 1.61, Add 1.70, Triad 1.70)`),
  l2Bytes: fig(40e6, 'NVIDIA A100 architecture whitepaper: 40 MB L2'),
  fp32Flops: fig(19.5e12, `${A100_DS}: 19.5 TFLOPS FP32 (dense; no sparsity at FP32)`),
  fp16Flops: fig(312e12, `${A100_DS}: 312 TFLOPS dense BF16 (624 with sparsity)`),
  fp8Flops: fig(312e12, `${A100_DS}: no FP8 on Ampere; 1-byte weights (int8 weight-only) are multiplied at the dense BF16 rate, 312 TFLOPS (624 with sparsity)`),
  launchSeconds: GRAPH_NODE,
  graphLaunchSeconds: GRAPH_REPLAY,
  linkBytesPerS: fig(300e9, `${A100_DS}: NVLink 600 GB/s per GPU, 300 each way`),
  allreduceSeconds: NVLINK_ALLREDUCE,
} satisfies GpuFigures;

const MI300X_DS = 'AMD Instinct MI300X accelerator data sheet';
const MI300X = {
  hbmBytes: fig(192e9, `${MI300X_DS}: 192 GB HBM3`),
  hbmBytesPerS: fig(5.3e12, `${MI300X_DS}: 5.3 TB/s peak`),
  l2Bytes: fig(256e6, `${MI300X_DS}: 256 MB AMD Infinity Cache (last level)`),
  fp32Flops: fig(163.4e12, `${MI300X_DS}: 163.4 TFLOPS FP32 matrix (dense)`),
  fp16Flops: fig(1307.4e12, `${MI300X_DS}: 1,307.4 TFLOPS dense FP16/BF16 (2,614.9 with sparsity)`),
  fp8Flops: fig(2614.9e12, `${MI300X_DS}: 2,614.9 TFLOPS dense FP8 (5,229.8 with sparsity)`),
  launchSeconds: fig(GRAPH_NODE.value, `HIP graphs assumed to cost what CUDA graphs do: ${GRAPH_NODE.source}`, true),
  graphLaunchSeconds: fig(GRAPH_REPLAY.value, `HIP graphs assumed to cost what CUDA graphs do: ${GRAPH_REPLAY.source}`, true),
  linkBytesPerS: fig(448e9, `${MI300X_DS}: 7 Infinity Fabric links of 128 GB/s (bidirectional) per GPU, 448 GB/s each way in all`),
  allreduceSeconds: fig(NVLINK_ALLREDUCE.value, `assumed alike over Infinity Fabric: ${NVLINK_ALLREDUCE.source}`, true),
} satisfies GpuFigures;

const TRN2_DS = 'AWS Neuron documentation, "Trainium2 Architecture" (per chip: eight NeuronCore-v3, 96 GiB HBM at 2.9 TB/s, 4 NeuronLink-v3)';
const TRAINIUM2 = {
  hbmBytes: fig(96 * 2 ** 30, `${TRN2_DS}: 96 GiB`),
  hbmBytesPerS: fig(2.9e12, `${TRN2_DS}: 2.9 TB/s`),
  l2Bytes: fig(24 * 2 ** 20, 'on-chip SBUF: 24 MiB per chip (8 NeuronCores × 24 MiB ÷ 8 assumed; the NKI guide gives per-core SBUF, not a chip cache)', true),
  fp32Flops: fig(181e12, `${TRN2_DS}: 181 FP32 TFLOPS (dense)`),
  fp16Flops: fig(667e12, `${TRN2_DS}: 667 BF16/FP16 TFLOPS dense`),
  fp8Flops: fig(1299e12, `${TRN2_DS}: 1,299 FP8 TFLOPS dense`),
  launchSeconds: fig(GRAPH_NODE.value, `the Neuron runtime runs a compiled graph per step; assumed to cost what a CUDA graph node does: ${GRAPH_NODE.source}`, true),
  graphLaunchSeconds: fig(GRAPH_REPLAY.value, `assumed alike: ${GRAPH_REPLAY.source}`, true),
  linkBytesPerS: fig(640e9, 'NeuronLink-v3: 1.28 TB/s per chip as AWS announced Trn2 (not in the architecture page); 640 GB/s each way assumed', true),
  allreduceSeconds: fig(NVLINK_ALLREDUCE.value, `assumed alike over NeuronLink: ${NVLINK_ALLREDUCE.source}`, true),
} satisfies GpuFigures;

/**
 * The toy models' GPU: the H100 with bandwidth (peak and sustained), FLOPs, memory and L2 divided
 * by `k`. Its kernels are WebGPU dispatches launched one by one (no graph), so it keeps an eager
 * launch per kernel.
 */
const scaled = (f: GpuFigures, k: number, why: string): GpuFigures => {
  const s = (x: Figure) => fig(x.value / k, `${why}: ${x.source}`, x.assumed);
  return {
    ...f,
    hbmBytes: s(f.hbmBytes),
    hbmBytesPerS: s(f.hbmBytesPerS),
    ...(f.sustainedHbmBytesPerS ? { sustainedHbmBytesPerS: s(f.sustainedHbmBytesPerS) } : {}),
    l2Bytes: s(f.l2Bytes),
    fp32Flops: s(f.fp32Flops),
    fp16Flops: s(f.fp16Flops),
    fp8Flops: s(f.fp8Flops),
    linkBytesPerS: s(f.linkBytesPerS),
    launchSeconds: fig(3e-6, 'an eager kernel launch (the toy baseline dispatches its kernels one by one, no graph): typical measured launch overheads are 2–5 µs', true),
    graphLaunchSeconds: fig(0, 'no graph: every kernel is launched on its own'),
  };
};

/**
 * The links a KV cache crosses between machines in a disaggregated pair: the network between the
 * prefill machine and the decode machine's system, and a wafer's system I/O at its edge. Sourced
 * where a source gives the figure, `assumed` otherwise.
 */
export interface LinkFigures {
  readonly name: string;
  readonly bytesPerS: Figure;
  readonly latencyS?: Figure;
}

const LINKS = {
  network: {
    name: 'EFA between instances (Trn1n.32xlarge: 1,600 Gb/s)',
    bytesPerS: fig(1600e9 / 8, 'AWS Neuron documentation, Trn1/Trn1n architecture: EFA bandwidth 1,600 Gbps per Trn1n.32xlarge'),
    latencyS: fig(15e-6, 'no figure published that we found for one EFA message: assumed 15 µs', true),
  },
  waferEdge: {
    name: 'CS-3 system I/O (1.2 Tb/s)',
    bytesPerS: fig(1.2e12 / 8, 'ALCF AI-testbed tutorial (SC24): each CS system provides 1.2 Tbps of I/O to and from the chip (12 × 100 GbE)'),
  },
} satisfies Record<string, LinkFigures>;

/**
 * A preset's footprint for the serving view (`predict --serve`): chips per system, the system's
 * power and rack units. `predict` divides them per chip and prints them; flags override them.
 */
export interface SystemFigures {
  readonly name: string;
  readonly chips: Figure;
  readonly powerW: Figure;
  readonly rackUnits: Figure;
}

const SYSTEMS: Record<string, SystemFigures> = {
  'wse-3': {
    name: 'Cerebras CS-3 (one WSE-3)',
    chips: fig(1, 'one wafer per CS system (ALCF AI-testbed tutorial, SC24: "each WSE is housed within a CS system")'),
    powerW: fig(23e3, 'not in a source we could read: the CS-1 draws about 20 kW at peak (AnandTech on the CS-1 at LLNL); 23 kW assumed for the CS-3', true),
    rackUnits: fig(15, "the CS-1 occupies 15 rack units, a third of a rack (Cerebras via croysdale.net, \"Powering and Cooling a Wafer Scale Die\"); the CS-3 assumed the same form factor", true),
  },
  'wse-2': {
    name: 'Cerebras CS-2 (one WSE-2)',
    chips: fig(1, 'one wafer per CS system'),
    powerW: fig(23e3, 'assumed as the CS-3 (the CS-1 draws about 20 kW at peak: AnandTech)', true),
    rackUnits: fig(15, 'the CS-1 occupies 15 rack units (croysdale.net); the CS-2 assumed the same form factor', true),
  },
  'h100': {
    name: 'NVIDIA DGX H100 (8 GPUs)',
    chips: fig(8, 'NVIDIA DGX H100 datasheet: 8 H100 GPUs'),
    powerW: fig(10.2e3, 'NVIDIA DGX H100 datasheet: ~10.2 kW max system power'),
    rackUnits: fig(8, 'NVIDIA DGX H100 datasheet: 8U rackmount'),
  },
  'h200': {
    name: 'NVIDIA DGX H200 (8 GPUs)',
    chips: fig(8, 'NVIDIA DGX H200 datasheet: 8 H200 GPUs'),
    powerW: fig(10.2e3, 'NVIDIA DGX H200 datasheet: ~10.2 kW max system power'),
    rackUnits: fig(8, 'NVIDIA DGX H200 datasheet: 8U rackmount (the DGX H100 chassis)'),
  },
  'b200': {
    name: 'NVIDIA DGX B200 (8 GPUs)',
    chips: fig(8, 'NVIDIA DGX B200 datasheet: 8 B200 GPUs'),
    powerW: fig(14.3e3, 'NVIDIA DGX B200 datasheet: ~14.3 kW max system power'),
    rackUnits: fig(10, 'NVIDIA DGX B200 datasheet: 10U rackmount'),
  },
  'a100': {
    name: 'NVIDIA DGX A100 (8 GPUs)',
    chips: fig(8, 'NVIDIA DGX A100 datasheet: 8 A100 GPUs'),
    powerW: fig(6.5e3, 'NVIDIA DGX A100 datasheet: 6.5 kW max system power'),
    rackUnits: fig(6, 'NVIDIA DGX A100 datasheet: 6U rackmount'),
  },
  'mi300x': {
    name: 'an 8-GPU MI300X server',
    chips: fig(8, 'AMD Instinct MI300X platform: 8 OAM GPUs per board'),
    powerW: fig(10.2e3, 'AMD MI300X data sheet: 750 W per GPU (6 kW for 8); the server around them assumed like a DGX H100, 10.2 kW in all', true),
    rackUnits: fig(8, 'assumed like a DGX H100: 8U', true),
  },
  'trainium2': {
    name: 'a Trn2 server (16 Trainium2)',
    chips: fig(16, 'AWS: a trn2.48xlarge instance has 16 Trainium2 chips'),
    powerW: fig(8e3, 'not published that we found: 500 W a chip with its share of the host assumed, 8 kW for 16', true),
    rackUnits: fig(8, 'not published that we found: 8U for 16 chips assumed', true),
  },
};

export const CATALOG = {
  links: LINKS,
  systems: SYSTEMS,
  hardware: [
    {
      id: 'wse-3',
      kind: 'wafer',
      description: 'a Cerebras WSE-3-like core: 48 KB SRAM, 1.1 GHz, one 32-bit word per link per cycle, one cycle per hop',
      figures: WSE3_CORE,
    },
    {
      id: 'wse-3-big-sram',
      kind: 'wafer',
      description: 'the WSE-3 core with 4 MB of SRAM, so whole models fit on tiny meshes (a teaching device, not real hardware)',
      figures: { ...WSE3_CORE, sramBytes: fig(4 * 1024 * 1024, 'the WSE-3 core with its SRAM enlarged on purpose (not real hardware)', true) },
    },
    {
      id: 'wse-2',
      kind: 'wafer',
      description: "a Cerebras WSE-2-like core (the wafer WaferLLM measured): 48 KB SRAM, ~1.1 GHz, the SDK's 757 × 996 fabric",
      figures: {
        sramBytes: fig(48 * 1024, '48 KB per PE, 40 GB in all over ~850,000 cores: WaferLLM (OSDI 2025) and its compile.py; Cerebras WSE-2 documentation'),
        clockHz: fig(1.1e9, "up to ~1.1 GHz: WaferLLM (OSDI 2025); Argonne's ALCF CS-2 user guide"),
        wordsPerLinkCycle: fig(1, `one 32-bit wavelet per link per cycle each way: ${SDK}`),
        cyclesPerHop: fig(1, `about one cycle per hop: ${SDK}`),
        cyclesPerRamp: fig(8, RAMP, true),
        flopsPerCoreCycle: fig(32, 'f32, dense: no per-core rate published that we found: assumed the same as the wse-3 preset', true),
        fullWidth: fig(757, "the SDK's WSE-2 fabric is 757 × 996 (WaferLLM's Decode/WSE-2/compile.py: --fabric-dims=757,996 --fabric-offsets=4,1), ≤ 750 × 994 usable"),
        fullHeight: fig(996, "the SDK's WSE-2 fabric is 757 × 996 (WaferLLM's Decode/WSE-2/compile.py: --fabric-dims=757,996 --fabric-offsets=4,1), ≤ 750 × 994 usable"),
        waferToWaferSeconds: WSE3_CORE.waferToWaferSeconds,
        colours: fig(24, 'Cerebras SDK documentation (the SDK targets the WSE-2 and WSE-3 alike): 24 routable colours'),
      },
    },
    { id: 'h100', kind: 'gpu', description: 'NVIDIA H100 SXM: 80 GB HBM3 at 3.35 TB/s, NVLink 450 GB/s each way', figures: H100 },
    { id: 'h200', kind: 'gpu', description: 'NVIDIA H200 SXM: 141 GB HBM3e at 4.8 TB/s, NVLink 450 GB/s each way', figures: H200 },
    { id: 'b200', kind: 'gpu', description: 'NVIDIA B200 (HGX/DGX, 1,000 W): 180 GB HBM3e at 8 TB/s, NVLink 5 900 GB/s each way', figures: B200 },
    { id: 'a100', kind: 'gpu', description: 'NVIDIA A100 80GB SXM: HBM2e at 2.04 TB/s, NVLink 300 GB/s each way', figures: A100 },
    { id: 'mi300x', kind: 'gpu', description: 'AMD Instinct MI300X: 192 GB HBM3 at 5.3 TB/s, Infinity Fabric 448 GB/s each way', figures: MI300X },
    {
      id: 'trainium2',
      kind: 'gpu',
      description: 'AWS Trainium2 (an accelerator with off-chip HBM, costed as the GPUs are): 96 GiB at 2.9 TB/s, NeuronLink-v3',
      figures: TRAINIUM2,
    },
    {
      id: 'toy-gpu',
      kind: 'gpu',
      description: 'the H100 scaled down 16,000x for the toy models (bandwidth, FLOPs, memory, L2), an eager 3 µs launch per kernel kept',
      figures: scaled(H100, 16000, "h100 ÷ 16,000 (the README's scaled-down pair)"),
    },
  ] as HardwarePreset[],
  allreduce: [
    { id: 'chain', description: 'a streamed chain: partial sums flow from both ends of the line to its middle core, each core adding its own as the wavefront passes; the sum is broadcast back' },
    { id: 'ring', description: 'the folded ring 0 2 4 … 5 3 1 (neighbours at most two hops apart): a reduce-scatter then an allgather, 2(N − 1) rounds' },
    { id: 'ktree', description: "WaferLLM's K = 2 tree: groups of about √N cores reduce to their middle core, the group roots to the middle root, then the sum is broadcast back (also: tree)" },
  ] as AlgorithmEntry[],
  models: [
    {
      id: 'wm-stories',
      description: "wafermesh's own tiny Llama, trained on the project's generated children's stories (MIT); with its tokenizer",
      checkpoint: 'public/models/wm-stories.bin',
      tokenizer: 'public/models/wm-stories.tok.bin',
      checkpointSha256: 'd03f54e72baaebe73b79d27fd0608564ea7e701fc1ef4889ec0ded839abd3332',
      tokenizerSha256: 'c9ac2509e0452721e3f01c843de12affd21a3853fc0d7be8102f507bff11aa90',
      demo: true,
    },
    {
      id: 'stories260K',
      description: "Karpathy's tinyllamas stories260K (TinyStories, MIT); its tokenizer is not shipped, so ids only",
      checkpoint: '../shared/models/stories260K.bin',
      checkpointSha256: '9414d5a285453a7eab631713d171753232c978f6f97654211469aff8be93c8d6',
      demo: false,
    },
    {
      id: 'llama-3.1-8b',
      description: "Meta's Llama 3.1 8B (shape from its published config; weights not here: predict only)",
      config: makeConfig({ dim: 4096, hiddenDim: 14336, nLayers: 32, nHeads: 32, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-3.1-70b',
      description: "Meta's Llama 3.1 70B (shape from its published config; weights not here: predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 28672, nLayers: 80, nHeads: 64, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-3.3-70b',
      description: "Meta's Llama 3.3 70B: Llama 3.1 70B's shape (its published config; predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 28672, nLayers: 80, nHeads: 64, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-3-8b',
      description: "Meta's Llama 3 8B, WaferLLM's LLaMA3-8B (its published config: Llama 3.1 8B's shape with an 8K context; predict only)",
      config: makeConfig({ dim: 4096, hiddenDim: 14336, nLayers: 32, nHeads: 32, nKvHeads: 8, vocabSize: 128256, seqLen: 8192, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-3.2-1b',
      description: "Meta's Llama 3.2 1B (its published config; tied embeddings; predict only, e.g. as a draft model)",
      config: makeConfig({ dim: 2048, hiddenDim: 8192, nLayers: 16, nHeads: 32, nKvHeads: 8, vocabSize: 128256, seqLen: 131072, sharedClassifier: true }),
      demo: false,
    },
    {
      id: 'llama-2-7b',
      description: "Meta's Llama 2 7B (its published config: multi-head attention, 4K context; predict only)",
      config: makeConfig({ dim: 4096, hiddenDim: 11008, nLayers: 32, nHeads: 32, nKvHeads: 32, vocabSize: 32000, seqLen: 4096, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-2-13b',
      description: "Meta's Llama 2 13B, WaferLLM's LLaMA2-13B (its published config; predict only)",
      config: makeConfig({ dim: 5120, hiddenDim: 13824, nLayers: 40, nHeads: 40, nKvHeads: 40, vocabSize: 32000, seqLen: 4096, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'llama-2-70b',
      description: "Meta's Llama 2 70B (its published config: grouped-query attention, 8 KV heads; predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 28672, nLayers: 80, nHeads: 64, nKvHeads: 8, vocabSize: 32000, seqLen: 4096, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'codellama-34b',
      description: "Meta's Code Llama 34B, WaferLLM's CodeLLaMA-34B (its published config; predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 22016, nLayers: 48, nHeads: 64, nKvHeads: 8, vocabSize: 32000, seqLen: 16384, sharedClassifier: false }),
      demo: false,
    },
    {
      id: 'qwen2-72b',
      description: "Alibaba's Qwen2 72B, WaferLLM's QWen2-72B (its published config; its q/k/v biases, 0.01% of the weights, are left out; predict only)",
      config: makeConfig({ dim: 8192, hiddenDim: 29568, nLayers: 80, nHeads: 64, nKvHeads: 8, vocabSize: 152064, seqLen: 32768, sharedClassifier: false }),
      demo: false,
    },
  ] as ModelEntry[],
  /** The order of a core's four outgoing links: link id = core * 4 + index. */
  linkOrder: ['east', 'west', 'south', 'north'] as const,
  /** A small random model the demo offers beside the built-ins. */
  demoRandomModel: 'random:dim=64,layers=2,heads=4,kv=2,vocab=256,seq=128',
  defaults: { model: 'wm-stories', wafer: 'wse-3', gpu: 'toy-gpu', allreduce: 'ktree', predictModel: 'llama-3.1-8b', predictHardware: 'wse-3' },
};

export type Catalog = typeof CATALOG;

/** The catalog as plain data (it crosses the worker boundary by structured clone). */
export function catalogData(): Catalog {
  return CATALOG;
}

export function hardwareIds(kind?: HardwareKind, catalog: Catalog = CATALOG): string[] {
  return catalog.hardware.filter((h) => !kind || h.kind === kind).map((h) => h.id);
}

/** A preset by id (case-insensitive), or a one-line refusal listing the ones of that kind. */
export function hardwarePreset<K extends HardwareKind>(id: string, kind?: K, catalog: Catalog = CATALOG): Extract<HardwarePreset, { kind: K }> {
  const p = catalog.hardware.find((h): h is Extract<HardwarePreset, { kind: K }> => h.id === id.toLowerCase() && (!kind || h.kind === kind));
  if (!p) {
    const what = kind === 'wafer' ? 'mesh preset' : kind === 'gpu' ? 'GPU preset' : 'hardware';
    // Any kind: name both lists, so a wafer is offered beside the GPUs (and the other way round).
    const choices = kind
      ? hardwareIds(kind, catalog).join(', ')
      : `${hardwareIds('wafer', catalog).join(', ')} (wafers) or ${hardwareIds('gpu', catalog).join(', ')} (GPUs and other off-chip-memory accelerators)`;
    throw new WafermeshError(kind === 'wafer' ? 'unknown-preset' : 'unknown-hardware', `${what} "${id}" is unknown; use one of ${choices}`);
  }
  return p;
}

export function allreduceIds(catalog: Catalog = CATALOG): string[] {
  return catalog.allreduce.map((a) => a.id);
}

export function modelEntry(id: string, catalog: Catalog = CATALOG): ModelEntry | undefined {
  return catalog.models.find((m) => m.id.toLowerCase() === id.toLowerCase());
}

/** Models with a checkpoint here (runnable by name). */
export function runnableModels(catalog: Catalog = CATALOG): ModelEntry[] {
  return catalog.models.filter((m) => m.checkpoint);
}

/** Every figure of a preset that is our assumption, as "name: source" lines. */
export function assumedFigures(p: HardwarePreset): string[] {
  return Object.entries(p.figures as unknown as Record<string, Figure>)
    .filter(([, f]) => f.assumed)
    .map(([k, f]) => `${k} = ${f.value}: ${f.source}`);
}

/** The distinct sources of a preset's figures, for one-line citations. */
export function presetSources(p: HardwarePreset): string {
  return [...new Set(Object.values(p.figures as unknown as Record<string, Figure>).map((f) => f.source))].join('; ');
}
