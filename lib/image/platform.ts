// Which manifest of an image index (a multi-platform image) runs here. Platforms are named as
// Go names them (image-spec image-index.md: `architecture` takes GOARCH values), so Node's
// process.arch is mapped to GOARCH; matching follows containerd's platforms package in spirit:
// same os and architecture, and an ARM variant no newer than the host's.
import { endianness } from 'node:os';
import type { Platform } from './types.js';

const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
  mips64el: 'mips64le',
};

/** The platform this process runs on (read when asked, never at import time). */
export function hostPlatform(): Platform {
  const arch = process.arch === 'ppc64' ? (endianness() === 'LE' ? 'ppc64le' : 'ppc64') : (GOARCH[process.arch] ?? process.arch);
  const p: Platform = { os: 'linux', architecture: arch };
  if (arch === 'arm64') p.variant = 'v8';
  if (arch === 'arm') {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    p.variant = `v${typeof v === 'string' || typeof v === 'number' ? v : '7'}`;
  }
  return p;
}

/** The variant a descriptor means when it names none: arm64 images are v8, and amd64 images
 * without a microarchitecture level (v2, v3: newer CPUs only) are v1. */
function variantOf(p: Platform): string {
  if (p.variant) return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'amd64') return 'v1';
  return '';
}

/** How well `candidate` runs on `want`: undefined when it does not, higher is better. An
 * older ARM variant runs on a newer CPU (v6 code on v7), just less well; amd64 levels above
 * v1 are not taken, because nothing here checks the CPU supports them. */
export function platformScore(want: Platform, candidate: Platform): number | undefined {
  if (candidate.os !== want.os || candidate.architecture !== want.architecture) return undefined;
  const w = variantOf(want);
  const c = variantOf(candidate);
  if (c === w) return 100;
  if (want.architecture === 'arm') {
    const wn = Number(w.slice(1));
    const cn = Number(c.slice(1));
    if (c === '') return 1;
    if (Number.isInteger(cn) && cn < wn) return cn;
  }
  return undefined;
}

export function formatPlatform(p: Platform | undefined): string {
  if (!p) return 'unknown platform';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}
