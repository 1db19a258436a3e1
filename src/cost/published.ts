import type { Precision } from './model.ts';

/**
 * Published measurements that `predict --validate` holds our predictions against: one place for
 * every number and where it came from. Each row is single-stream decode (batch 1), tokens per
 * second per request, run at its source's setup as far as the source states it; `setupNote` says
 * which parts of the setup the source gives and which we had to choose.
 *
 * The prediction reads only `setup` (src/cost/validate.ts `predictSetup`); `tokensPerS` is read
 * after it, to compare. A test changes every published number and sees every prediction unchanged.
 *
 * Left out, and why: WaferLLM's prefill tables (the abstract, our source for its rows, gives no
 * prefill figures); batched throughput (every row here is one request at a time; the TensorRT-LLM
 * and Lambda vLLM tables we found are batched); rows whose setup the source does not state
 * (gpt-fast's int4 speculative 70B: its README does not say on how many GPUs).
 */
export interface ValidationSetup {
  /** A catalog model id. */
  readonly model: string;
  /** A catalog hardware id. */
  readonly hardware: string;
  readonly chips: number;
  readonly precision: Precision;
  /** KV-cache positions: the token is decoded at position context − 1. */
  readonly context: number;
  /** Wafers: the region of cores, when the source used less than the whole wafer. */
  readonly mesh?: { readonly width: number; readonly height: number };
  /** Speculative decoding with this draft model (α and γ are the one documented default). */
  readonly draft?: string;
}

export interface PublishedRow {
  readonly id: string;
  /** The published figure: decode tokens/s for one request (batch 1). */
  readonly tokensPerS: number;
  /** Who measured it, where, and exactly where in the source the number is. */
  readonly source: string;
  readonly url: string;
  /** Does the published figure use speculative decoding? */
  readonly speculative: boolean;
  readonly setup: ValidationSetup;
  /** What the source states of the setup, and what we chose where it states nothing. */
  readonly setupNote: string;
  /** A known reason for a gap between our number and theirs (what the model leaves out). */
  readonly note?: string;
}

const WAFERLLM =
  'He et al., "WaferLLM: Large Language Model Inference at Wafer Scale", OSDI 2025 (arXiv 2502.04563 v2, abstract: "based on 16-bit data type, WaferLLM achieves 2700 toks/sec/req decode speed on Llama3-8B model and 840 toks/sec/req decode speed on Qwen2-72B model"; the same sentence on luomai.github.io/post/25-waferllm-osdi)';
const CEREBRAS =
  'Cerebras, "Introducing Cerebras Inference: AI at Instant Speed" (blog, 27 August 2024): "1,800 tokens per second for Llama3.1 8B and 450 tokens per second for Llama3.1 70B … using native 16-bit weights"; Artificial Analysis measured above 1,800 and 446 output tokens/s';
const GPT_FAST =
  'pytorch-labs/gpt-fast README, "Benchmarks": "8xA100-80GB, power limited to 330W with a hybrid cube mesh topology … batch size=1 … a very small prompt length (just 5 tokens)"; bf16 unless stated (generate.py loads in torch.bfloat16), CUDA graphs via torch.compile(mode="reduce-overhead")';
const TORCHAO =
  'pytorch/ao, torchao/quantization/README.md, "Benchmarks" (the gpt-fast-derived torchao/_models/llama/generate.py, batch size 1)';
const NVIDIA_SPEC =
  'NVIDIA Technical Blog, "Boost Llama 3.3 70B Inference Throughput 3x with NVIDIA TensorRT-LLM Speculative Decoding" (17 December 2024): measured on H200, "throughput increases from 51.14 tokens per second to 181.74 tokens per second" with a Llama 3.2 1B draft (3.55x)';

export const PUBLISHED: readonly PublishedRow[] = [
  {
    id: 'waferllm-wse2-llama3-8b',
    tokensPerS: 2700,
    source: WAFERLLM,
    url: 'https://arxiv.org/abs/2502.04563v2',
    speculative: false,
    setup: { model: 'llama-3-8b', hardware: 'wse-2', chips: 1, precision: 'fp16', context: 4096 },
    setupNote:
      "stated: one Cerebras WSE-2, 16-bit, one request. The repository decodes on a P x P square of cores inside the 757 x 996 fabric (Decode/WSE-2/compile.py; its benchmark sweeps P from 240 to 720); the abstract does not say which P gave 2,700 nor at what position: we search placements on the whole WSE-2 fabric (whole-wafer tiling, smaller blocks, layer-pipelined regions) and take the fastest, decoding at position 4,095 (the decode configs are named llama8B_4k_*)",
    note: "the placement search takes layer-pipelined regions; our fabric decode still reduces every matrix-vector product's partial sums along each row of a region by a streamed chain, paying a ramp relay (β, assumed 8 cycles) at each core, where WaferLLM's MeshGEMV reduces them by a two-level K-tree",
  },
  {
    id: 'waferllm-wse2-qwen2-72b',
    tokensPerS: 840,
    source: WAFERLLM,
    url: 'https://arxiv.org/abs/2502.04563v2',
    speculative: false,
    setup: { model: 'qwen2-72b', hardware: 'wse-2', chips: 5, precision: 'fp16', context: 4096 },
    setupNote:
      "stated: a Cerebras WSE-2, 16-bit, one request. Qwen2-72B's 16-bit weights (145 GB) do not fit one WSE-2's 40 GB of SRAM, so we cost the fewest chained WSE-2s that hold it with a 4,096-position cache (5, pipeline, one token in flight), each wafer's 16 layers placed as the placement search finds fastest, plus four 5 µs hand-offs; the abstract does not say how the paper ran it",
    note: 'the same fabric-decode gap as the Llama3-8B row; and the paper ran on one wafer what needs five of ours, so it must hold or stream the weights in a way we do not model',
  },
  {
    id: 'cerebras-wse3-llama3.1-8b',
    tokensPerS: 1800,
    source: CEREBRAS,
    url: 'https://cerebras.ai/blog/introducing-cerebras-inference-ai-at-instant-speed',
    speculative: false,
    setup: { model: 'llama-3.1-8b', hardware: 'wse-3', chips: 1, precision: 'fp16', context: 1024 },
    setupNote:
      'stated: Cerebras CS-3 (WSE-3), 16-bit weights, one request\'s output speed; "20B models fit on a single CS-3" (same blog), so one wafer. Not stated: the position; we decode at position 1,023 (predict\'s default context)',
    note: 'Cerebras does not publish its placement; the placement search takes layer-pipelined regions, about 4x faster in our model than tiling each layer over the whole wafer; the model leaves out what would slow it: the cores\' instruction and task overheads, the colours and routes a region\'s collectives and hand-offs need, and any software between the layers',
  },
  {
    id: 'cerebras-wse3-llama3.1-70b',
    tokensPerS: 450,
    source: CEREBRAS,
    url: 'https://cerebras.ai/blog/introducing-cerebras-inference-ai-at-instant-speed',
    speculative: false,
    setup: { model: 'llama-3.1-70b', hardware: 'wse-3', chips: 4, precision: 'fp16', context: 1024 },
    setupNote: 'stated: CS-3 systems, 16-bit weights, one request; "70B models fit on as few as four systems" (same blog), so four wafers in a pipeline. Not stated: the position; we decode at position 1,023',
  },
  {
    id: 'gpt-fast-a100-llama2-7b',
    tokensPerS: 104.9,
    source: `${GPT_FAST}; table "Benchmarks", Llama-2-7B Base`,
    url: 'https://github.com/pytorch-labs/gpt-fast#benchmarks',
    speculative: false,
    setup: { model: 'llama-2-7b', hardware: 'a100', chips: 1, precision: 'fp16', context: 205 },
    setupNote: 'stated: one A100-80GB at 330 W, bf16, batch 1, a 5-token prompt; generate.py generates 200 tokens by default, so we decode at position 204',
    note: 'power-limited to 330 W (the datasheet bandwidth is at 400 W): the README measures 1,397 GB/s achieved and says peak "seems … about 1700 GB/s" on these cards, against the 1,750 GB/s we stream at (the sustained figure measured on an A100-SXM4-80GB, not at 330 W; the datasheet gives 2,039)',
  },
  {
    id: 'gpt-fast-a100x8-llama2-7b',
    tokensPerS: 328.43,
    source: `${GPT_FAST}; table "Tensor Parallelism", Llama-2-7B, 8 GPUs`,
    url: 'https://github.com/pytorch-labs/gpt-fast#tensor-parallelism',
    speculative: false,
    setup: { model: 'llama-2-7b', hardware: 'a100', chips: 8, precision: 'fp16', context: 205 },
    setupNote: 'stated: 8 A100-80GB (NVLink, hybrid cube mesh), tensor parallel, bf16, batch 1, 5-token prompt; position 204 as above',
    note: 'each GPU streams only 1.7 GB a token, so fixed costs per kernel and per allreduce decide it; the A100s are power-limited and connected by a hybrid cube mesh, not an NVSwitch',
  },
  {
    id: 'gpt-fast-a100x2-llama2-70b',
    tokensPerS: 21.32,
    source: `${GPT_FAST}; table "Tensor Parallelism", Llama-2-70B, 2 GPUs`,
    url: 'https://github.com/pytorch-labs/gpt-fast#tensor-parallelism',
    speculative: false,
    setup: { model: 'llama-2-70b', hardware: 'a100', chips: 2, precision: 'fp16', context: 205 },
    setupNote: 'stated: 2 A100-80GB, tensor parallel, bf16, batch 1, 5-token prompt; position 204',
  },
  {
    id: 'gpt-fast-a100x8-llama2-70b',
    tokensPerS: 62.5,
    source: `${GPT_FAST}; table "Tensor Parallelism", Llama-2-70B, 8 GPUs`,
    url: 'https://github.com/pytorch-labs/gpt-fast#tensor-parallelism',
    speculative: false,
    setup: { model: 'llama-2-70b', hardware: 'a100', chips: 8, precision: 'fp16', context: 205 },
    setupNote: 'stated: 8 A100-80GB, tensor parallel, bf16, batch 1, 5-token prompt; position 204',
  },
  {
    id: 'gpt-fast-a100-llama2-70b-int8',
    tokensPerS: 19.13,
    source: `${GPT_FAST}; table "Benchmarks", Llama-2-70B 8-bit`,
    url: 'https://github.com/pytorch-labs/gpt-fast#benchmarks',
    speculative: false,
    setup: { model: 'llama-2-70b', hardware: 'a100', chips: 1, precision: 'fp8', context: 205 },
    setupNote: "stated: one A100-80GB, int8 weight-only (1 byte per weight; costed as our 1-byte 'fp8' at the A100's BF16 rate), batch 1; position 204",
  },
  {
    id: 'torchao-h100-llama3.1-8b',
    tokensPerS: 126.9,
    source: `${TORCHAO}; "CUDA backend | NVIDIA-H100 GPU", Llama-3.1-8B Base (bfloat16)`,
    url: 'https://github.com/pytorch/ao/blob/main/torchao/quantization/README.md',
    speculative: false,
    setup: { model: 'llama-3.1-8b', hardware: 'h100', chips: 1, precision: 'fp16', context: 205 },
    setupNote: "stated: one H100, bf16, batch 1. Not stated: prompt and output length; gpt-fast's defaults assumed (a short prompt, 200 tokens), position 204",
  },
  {
    id: 'torchao-h100-llama3.1-8b-float8wo',
    tokensPerS: 178.46,
    source: `${TORCHAO}; "CUDA backend | NVIDIA-H100 GPU", Llama-3.1-8B float8wo`,
    url: 'https://github.com/pytorch/ao/blob/main/torchao/quantization/README.md',
    speculative: false,
    setup: { model: 'llama-3.1-8b', hardware: 'h100', chips: 1, precision: 'fp8', context: 205 },
    setupNote: 'stated: one H100, float8 weight-only (1 byte per weight), batch 1; position 204 as above',
    note: 'the same table reports 1,340 GB/s achieved by this float8 weight-only path (1,905 GB/s by bf16) against the 3,180 GB/s we stream at (the sustained figure measured on an H100 SXM): its kernels, not the memory, set its pace',
  },
  {
    id: 'torchao-a100-llama3-8b',
    tokensPerS: 95.64,
    source: `${TORCHAO}; "CUDA backend | NVIDIA-A100-80GB GPU", Llama-3-8B Base (bfloat16)`,
    url: 'https://github.com/pytorch/ao/blob/main/torchao/quantization/README.md',
    speculative: false,
    setup: { model: 'llama-3-8b', hardware: 'a100', chips: 1, precision: 'fp16', context: 205 },
    setupNote: 'stated: one A100-80GB, bf16, batch 1; position 204 as above',
  },
  {
    id: 'nvidia-h200-llama3.3-70b',
    tokensPerS: 51.14,
    source: NVIDIA_SPEC,
    url: 'https://developer.nvidia.com/blog/boost-llama-3-3-70b-inference-throughput-3x-with-nvidia-tensorrt-llm-speculative-decoding/',
    speculative: false,
    setup: { model: 'llama-3.3-70b', hardware: 'h200', chips: 1, precision: 'fp8', context: 1024 },
    setupNote:
      'stated: H200, TensorRT-LLM with FP8 quantization among its optimisations, no draft model. Inferred, not stated in what we could read: one GPU at FP8 (one H200 at 16-bit would not hold the weights; two at 16-bit stream the same bytes per GPU), batch 1; position 1,023 assumed',
  },
  {
    id: 'nvidia-h200-llama3.3-70b-spec',
    tokensPerS: 181.74,
    source: NVIDIA_SPEC,
    url: 'https://developer.nvidia.com/blog/boost-llama-3-3-70b-inference-throughput-3x-with-nvidia-tensorrt-llm-speculative-decoding/',
    speculative: true,
    setup: { model: 'llama-3.3-70b', hardware: 'h200', chips: 1, precision: 'fp8', context: 1024, draft: 'llama-3.2-1b' },
    setupNote:
      "stated: H200, TensorRT-LLM, draft-target speculative decoding with Llama 3.2 1B. Not stated in what we could read: the draft length and acceptance (we use the one default, γ = 5, α = 0.8), GPU count and precision (as the row above)",
  },
];
