// What the app needs to know about the stack, from /config.json beside it: the same build runs
// against the local stand-ins or a deployed stack (docs/web-app.md).
export interface AppConfig {
  region: string
  userPoolId: string
  userPoolClientId: string
  identityPoolId: string
  tableName: string
  // The tenant API's stage URL (the stack's TenantApiUrl output); the page reads through it too.
  apiUrl?: string
  // How the app signs in. SRP, the default, is what the template's app client allows; the local
  // user pool (cognito-local) has no SRP, so the local config asks for password auth.
  authFlow?: 'USER_SRP_AUTH' | 'USER_PASSWORD_AUTH'
  // The local stand-ins' addresses; absent for a deployed stack.
  endpoints?: { cognitoIdentityProvider?: string; cognitoIdentity?: string; dynamodb?: string }
}

const REQUIRED = ['region', 'userPoolId', 'userPoolClientId', 'identityPoolId', 'tableName'] as const

export async function loadConfig(): Promise<AppConfig> {
  const response = await fetch('/config.json', { cache: 'no-store' })
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`)
  const config = (await response.json()) as AppConfig
  const missing = REQUIRED.filter((name) => typeof config[name] !== 'string' || !config[name])
  if (missing.length) throw new Error(`config.json lacks ${missing.join(', ')}`)
  if (config.authFlow !== undefined && !['USER_SRP_AUTH', 'USER_PASSWORD_AUTH'].includes(config.authFlow)) {
    throw new Error(`config.json: authFlow ${config.authFlow} is not USER_SRP_AUTH or USER_PASSWORD_AUTH`)
  }
  return config
}
