/** The image concern: operator-managed base images (IMG-01, IMG-02). */
import type { OwnershipTag, Receipt } from './platform.js';

export interface Image {
  id: string;
  name: string;
  /** The version label the operator published it under (IMG-02), when the platform keeps one. */
  version?: string;
  format: string;
  sizeBytes: number;
  checksum?: { algorithm: string; value: string };
  owner?: OwnershipTag;
}

/** A base image file to publish through the platform API (IMG-01, IMG-02). */
export interface ImageSource {
  name: string;
  version: string;
  /** Local file the harness uploads. */
  path: string;
  format: 'raw' | 'qcow2';
  /** Expected sha256 (hex); the platform's own checksum must agree. */
  sha256: string;
}

export interface ImageOps {
  images(): Promise<Image[]>;
  importImage(src: ImageSource): Promise<Receipt<Image>>;
  deleteImage(id: string): Promise<Receipt>;
}
