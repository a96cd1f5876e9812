import { getMetadataStorage } from 'class-validator';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvironmentVariables } from './env.schema';

const root = join(__dirname, '..', '..');
const variables = [
  ...new Set(getMetadataStorage().getTargetValidationMetadatas(EnvironmentVariables, '', true, false).map((m) => m.propertyName)),
];

describe('configuration documentation', () => {
  it('knows the variables', () => {
    expect(variables).toEqual(expect.arrayContaining(['OPENAI_API_KEY', 'PORT', 'HUBSPOT_ACCESS_TOKEN']));
  });

  it.each(variables)('documents %s in .env.example and README', (name) => {
    expect(readFileSync(join(root, '.env.example'), 'utf8')).toMatch(new RegExp(`^${name}=`, 'm'));
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
  });
});
