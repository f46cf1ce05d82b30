import { z } from 'zod';
import type { Prisma, PrismaClient, SellerProfile } from '../../generated/prisma/client.js';
import { requireFeature, type AuthContext } from '../../auth/context.js';
import { DomainError, NotFoundError } from '../../core/errors.js';
import { parseId } from '../../core/ids.js';
import { optionalText, parseInput } from '../../core/validation.js';
import { FALLBACK_CURRENCY, isCurrency } from './money.js';

// Who issues a tenant's invoices (EN 16931's seller: name, postal address, VAT and tax ids, payment
// means): set by the operator (admin API and CLI), read by the tenant's applications (REST and
// GraphQL), printed on every invoice PDF, and the source of an invoice's default currency.

/** ISO 3166-1 alpha-2, the 249 assigned codes (not CLDR's extras such as EU, UK or XK). */
const COUNTRIES = new Set(
  (
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ ' +
    'CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO ' +
    'FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE ' +
    'JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO ' +
    'MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW ' +
    'PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM ' +
    'TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW'
  ).split(' '),
);

/** The largest logo the profile stores: enough for a crisp header image, small enough to load with every PDF. */
const MAX_LOGO_BYTES = 256 * 1024;

/** An ISO 4217 code the invoices can be issued in (src/features/invoices/money.ts lists them). */
export const CurrencyCode = z
  .string()
  .refine(isCurrency, 'must be an ISO 4217 currency code in capitals, such as EUR, JPY or KWD')
  .meta({ pattern: '^[A-Z]{3}$', description: 'ISO 4217 currency code, e.g. EUR, JPY, KWD' });

const requiredText = (max: number) =>
  z.string().trim().min(1, 'is required').max(max, `must be at most ${max} characters`);

/** ISO 13616: the country, two check digits and the account, whose mod-97 remainder is 1. */
function ibanIsValid(iban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban)) return false;
  const digits = (iban.slice(4) + iban.slice(0, 4)).replace(/[A-Z]/g, (letter) => String(letter.charCodeAt(0) - 55));
  return BigInt(digits) % 97n === 1n;
}

const Iban = z
  .string()
  .transform((value) => value.replace(/\s+/g, '').toUpperCase())
  .refine(ibanIsValid, 'must be an IBAN with valid check digits, such as DE89 3704 0044 0532 0130 00')
  .nullable()
  .optional();

const Bic = z
  .string()
  .trim()
  .toUpperCase()
  .regex(/^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/, 'must be a BIC of 8 or 11 characters, such as COBADEFFXXX')
  .nullable()
  .optional();

const LOGO_TYPES = [
  { mediaType: 'image/png', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { mediaType: 'image/jpeg', magic: [0xff, 0xd8, 0xff] },
] as const;

/** The media type the bytes start like, or null when neither PNG nor JPEG. */
export function logoMediaType(bytes: Uint8Array): string | null {
  return LOGO_TYPES.find(({ magic }) => magic.every((byte, i) => bytes[i] === byte))?.mediaType ?? null;
}

const Logo = z
  .base64('must be base64 (PNG or JPEG bytes)')
  .transform((text, context) => {
    const bytes = Buffer.from(text, 'base64');
    const mediaType = logoMediaType(bytes);
    if (bytes.length > MAX_LOGO_BYTES) {
      context.addIssue({ code: 'custom', message: `must be at most ${MAX_LOGO_BYTES} bytes (it has ${bytes.length})` });
      return z.NEVER;
    }
    if (!mediaType) {
      context.addIssue({ code: 'custom', message: 'must be a PNG or JPEG image' });
      return z.NEVER;
    }
    return { bytes: new Uint8Array(bytes), mediaType };
  })
  .nullable()
  .optional()
  .meta({ description: `PNG or JPEG, base64, at most ${MAX_LOGO_BYTES} bytes; null removes it, absent keeps it` });

export const SellerProfileInput = z.strictObject({
  legalName: requiredText(300),
  addressLines: z.array(requiredText(200)).min(1, 'needs at least one street line').max(3, 'may have at most 3 lines'),
  city: requiredText(100),
  postalCode: optionalText(20),
  region: optionalText(100),
  country: z
    .string()
    .refine((code) => COUNTRIES.has(code), 'must be an ISO 3166-1 alpha-2 country code in capitals, such as DE')
    .meta({ pattern: '^[A-Z]{2}$' }),
  vatId: optionalText(30),
  taxId: optionalText(50),
  email: z.email('must be an email address').max(254).nullable().optional(),
  phone: optionalText(50),
  defaultCurrency: CurrencyCode,
  iban: Iban,
  bic: Bic,
  bankName: optionalText(200),
  paymentTerms: optionalText(1000),
  logo: Logo,
});
export type SellerProfileInput = z.input<typeof SellerProfileInput>;

const text = z.string().nullable();

/** The profile as REST and the admin API answer it; the logo's bytes are served on their own. */
export const SellerProfileResource = z.strictObject({
  legalName: z.string(),
  addressLines: z.array(z.string()),
  city: z.string(),
  postalCode: text,
  region: text,
  country: z.string().describe('ISO 3166-1 alpha-2'),
  vatId: text,
  taxId: text,
  email: text,
  phone: text,
  defaultCurrency: z.string().describe('ISO 4217: the currency of an invoice created without one'),
  iban: text,
  bic: text,
  bankName: text,
  paymentTerms: text,
  logo: z
    .strictObject({ mediaType: z.enum(['image/png', 'image/jpeg']), byteLength: z.int() })
    .nullable()
    .describe('GET /api/v1/seller-profile/logo serves the image'),
  updatedAt: z.iso.datetime(),
});
export type SellerProfileResource = z.output<typeof SellerProfileResource>;

export function sellerProfileResource(profile: SellerProfile): SellerProfileResource {
  return {
    legalName: profile.legalName,
    addressLines: profile.addressLines,
    city: profile.city,
    postalCode: profile.postalCode,
    region: profile.region,
    country: profile.country,
    vatId: profile.vatId,
    taxId: profile.taxId,
    email: profile.email,
    phone: profile.phone,
    defaultCurrency: profile.defaultCurrency,
    iban: profile.iban,
    bic: profile.bic,
    bankName: profile.bankName,
    paymentTerms: profile.paymentTerms,
    logo:
      profile.logo && profile.logoType
        ? { mediaType: profile.logoType as 'image/png' | 'image/jpeg', byteLength: profile.logo.length }
        : null,
    updatedAt: profile.updatedAt.toISOString(),
  };
}

/** 404 not_found, saying who can make it exist. */
const notSet = (what = 'This tenant has no seller profile yet') =>
  new DomainError(
    404,
    'not_found',
    'Not found',
    `${what}; the gateway's operator sets it (admin CLI set-seller-profile).`,
  );

export function sellerProfileService(prisma: PrismaClient) {
  async function requireTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: parseId('ten', tenantId, 'tenant') } });
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
  }

  return {
    /** The tenant's profile with its logo bytes, or null: what the invoice PDF prints. */
    get(tenantId: string): Promise<SellerProfile | null> {
      return prisma.sellerProfile.findUnique({ where: { tenantId } });
    },

    /** For the tenant's applications (accounting feature); 404 not_found until the operator sets one. */
    async forApplication(auth: AuthContext): Promise<SellerProfileResource> {
      requireFeature(auth, 'accounting');
      const profile = await this.get(auth.tenantId);
      if (!profile) throw notSet();
      return sellerProfileResource(profile);
    },

    async logo(auth: AuthContext): Promise<{ bytes: Uint8Array; mediaType: string }> {
      requireFeature(auth, 'accounting');
      const profile = await prisma.sellerProfile.findUnique({
        where: { tenantId: auth.tenantId },
        select: { logo: true, logoType: true },
      });
      if (!profile) throw notSet();
      if (!profile.logo || !profile.logoType) throw notSet('The seller profile has no logo');
      return { bytes: profile.logo, mediaType: profile.logoType };
    },

    /** The operator's view (admin API and CLI): 404 for an unknown tenant or one without a profile. */
    async show(tenantId: string): Promise<SellerProfileResource> {
      await requireTenant(tenantId);
      const profile = await this.get(tenantId);
      if (!profile) throw notSet();
      return sellerProfileResource(profile);
    },

    /** Sets the whole profile; an absent `logo` keeps the stored one, `null` removes it. */
    async put(tenantId: string, input: unknown): Promise<SellerProfileResource> {
      const { logo, ...fields } = parseInput(SellerProfileInput, input);
      await requireTenant(tenantId);
      const logoFields = logo === undefined ? {} : { logo: logo?.bytes ?? null, logoType: logo?.mediaType ?? null };
      // A field left out is cleared, not kept: the profile is replaced as a whole.
      const cleared = {
        postalCode: null,
        region: null,
        vatId: null,
        taxId: null,
        email: null,
        phone: null,
        iban: null,
        bic: null,
        bankName: null,
        paymentTerms: null,
      };
      const data = { ...cleared, ...withoutUndefined(fields), ...logoFields } satisfies Omit<
        Prisma.SellerProfileUncheckedCreateInput,
        'tenantId'
      >;
      const profile = await prisma.sellerProfile.upsert({
        where: { tenantId },
        create: { tenantId, ...data },
        update: data,
      });
      return sellerProfileResource(profile);
    },

    /** Removes the profile; invoices created afterwards fall back to EUR. */
    async remove(tenantId: string): Promise<{ tenantId: string; removed: boolean }> {
      await requireTenant(tenantId);
      const { count } = await prisma.sellerProfile.deleteMany({ where: { tenantId } });
      return { tenantId, removed: count > 0 };
    },
  };
}

function withoutUndefined<T extends object>(fields: T): T {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as T;
}

/** An invoice's currency when its request names none: the seller profile's default, else EUR. */
export async function defaultCurrency(tx: Prisma.TransactionClient, tenantId: string): Promise<string> {
  const profile = await tx.sellerProfile.findUnique({ where: { tenantId }, select: { defaultCurrency: true } });
  return profile?.defaultCurrency ?? FALLBACK_CURRENCY;
}
