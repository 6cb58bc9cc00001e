import type { EngineName } from '../objects/index.js';

/** The engine of a Template that names none, and of implicit templates unless configured. */
export const DEFAULT_ENGINE: EngineName = 'mariadb';

/** The controller's default images: one for the MySQL family, one for PostgreSQL. */
export interface DefaultImages {
  /** For mariadb and mysql templates. */
  readonly image: string;
  readonly postgresImage: string;
}

const IMAGE_OF: Record<EngineName, keyof DefaultImages> = {
  mariadb: 'image',
  mysql: 'image',
  postgres: 'postgresImage',
};

/** The image a template of this engine runs in when its spec names none. */
export function defaultImage(images: DefaultImages, engine: EngineName): string {
  return images[IMAGE_OF[engine]];
}
