import { en } from 'zod/locales';
import { config } from 'zod/mini';

/**
 * zod/mini, the tree-shakable API, with English error messages: unlike `zod`, it loads no locale, and issues would
 * all read "Invalid input". The locale is global to zod, so every schema module imports `z` from here.
 */
config(en());

export * from 'zod/mini';
