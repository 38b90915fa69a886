import type { Image, InstanceType } from '../core/catalog/catalog.js';
import type { CatalogStore } from '../core/ports.js';

interface Entry<T> {
  value: T;
  expiresAt: number;
}

/**
 * Images and instance types the controller reads on every create and resize, cached for `ttlMs`. Only active images
 * are cached: their boot artifacts no longer change, while a snapshot still saving will.
 */
export class CatalogCache {
  private readonly images = new Map<string, Entry<Image>>();
  private types: Entry<Map<string, InstanceType>> | null = null;

  constructor(
    private readonly store: Pick<CatalogStore, 'getImage' | 'listInstanceTypes'>,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async image(id: string): Promise<Image | null> {
    const cached = this.images.get(id);
    if (cached && cached.expiresAt > this.now()) return cached.value;
    const image = await this.store.getImage(id);
    if (image?.status === 'active') this.images.set(id, { value: image, expiresAt: this.now() + this.ttlMs });
    return image;
  }

  async instanceType(id: string): Promise<InstanceType | null> {
    let types = this.types && this.types.expiresAt > this.now() ? this.types.value : null;
    if (!types || !types.has(id)) {
      types = new Map((await this.store.listInstanceTypes()).map((type) => [type.id, type]));
      this.types = { value: types, expiresAt: this.now() + this.ttlMs };
    }
    return types.get(id) ?? null;
  }
}
